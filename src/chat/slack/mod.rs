//! Slack: request verification, the inbound payload types, the Web API
//! client with its rate limits, Block Kit limits and rendering, the inbound
//! handlers and modals, and the chat port.

pub mod adapter;
pub mod blocks;
pub mod client;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod limits;
pub mod modal;
pub mod origin;
pub mod payload;
pub mod profile;
pub mod render;
pub mod replay;
pub mod types;
pub mod verify;

pub use adapter::SlackPort;
pub use client::SlackClient;
pub use error::SlackError;
pub use origin::{OriginError, ResponseUrl, SlackOrigin};
pub use replay::ReplayGuard;
pub use verify::{SlackRequest, SlackVerifier, VerifiedRequest, VerifyError};
