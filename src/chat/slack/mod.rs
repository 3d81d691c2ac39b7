//! Slack: request verification, the inbound payload types, the Web API
//! client with its rate limits, and Block Kit limits.

pub mod blocks;
pub mod client;
pub mod error;
pub mod limits;
pub mod payload;
pub mod types;
pub mod verify;

pub use client::SlackClient;
pub use error::SlackError;
pub use verify::{ReplayGuard, SlackRequest, SlackVerifier, VerifiedRequest, VerifyError};
