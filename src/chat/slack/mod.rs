//! Slack: request verification, the inbound payload types, the Web API
//! client with its rate limits, Block Kit limits and rendering, the inbound
//! handlers and modals, and the chat port.

pub mod adapter;
pub mod blocks;
pub mod client;
pub(crate) mod error;
pub mod extract;
pub(crate) mod handlers;
pub mod limits;
pub(crate) mod lookup;
pub(crate) mod modal;
pub(crate) mod origin;
pub mod payload;
pub(crate) mod profile;
pub mod render;
pub(crate) mod replay;
pub(crate) mod types;
pub(crate) mod verify;

pub use adapter::SlackPort;
pub use client::SlackClient;
pub use error::SlackError;
pub use extract::SlackRequest;
pub use origin::{OriginError, ResponseUrl, SlackOrigin};
pub use replay::ReplayGuard;
pub use verify::{SlackVerifier, VerifiedRequest, VerifyError};
