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

/// The application permissions (app roles of Microsoft Graph, granted with
/// admin consent) the bot's app-only calls need, and why. docs/deploy.md
/// lists exactly these (`tests/api/permissions.rs`).
pub const APPLICATION_PERMISSIONS: &[(&str, &str)] = &[
    ("User.Read.All", "approvers' names, mail and account state"),
    (
        "GroupMember.Read.All",
        "approvers named by group membership",
    ),
    (
        "EntitlementManagement.Read.All",
        "requests, policies and packages",
    ),
    (
        "RoleManagement.Read.Directory",
        "the role each group is eligible for",
    ),
    (
        "PrivilegedEligibilitySchedule.Read.AzureADGroup",
        "who is eligible for a group",
    ),
    (
        "PrivilegedAssignmentSchedule.Read.AzureADGroup",
        "who holds an active membership (alerts)",
    ),
    (
        "RoleManagementPolicy.Read.AzureADGroup",
        "a group's activation rules (maximum, MFA, justification)",
    ),
    (
        "AppCatalog.Read.All",
        "Teams: the org catalog id of the bot's app",
    ),
    (
        "TeamsAppInstallation.ReadWriteSelfForUser.All",
        "Teams: installing the app for approvers who never opened it",
    ),
];

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
