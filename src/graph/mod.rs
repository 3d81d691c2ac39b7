//! Microsoft Graph client: the app's token ([`crate::token`]) or a person's
//! delegated one, retries honouring `Retry-After`, typed errors, and typed models and endpoint functions for
//! what the engine uses (entitlement management, directory, PIM for Groups).

pub(crate) mod batch;
pub(crate) mod client;
pub mod directory;
pub mod em;
pub(crate) mod error;
pub mod models;
pub mod pim;

pub use client::{Auth, GraphClient};
pub use error::GraphError;

/// Percent-encodes a value for a URL query (`$filter` literals and such).
/// Spaces become `%20` (not `+`, which not every server reads as a space).
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~'$(),".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
