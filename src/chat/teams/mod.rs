//! The Microsoft Teams adapter: inbound activity authentication
//! ([`auth`]), the Bot Connector client ([`connector`]), the activity types
//! ([`activity`]) and the serviceUrl allowlist ([`service_url`]).

pub mod activity;
pub mod auth;
pub mod connector;
pub mod service_url;

pub use activity::{Activity, OutgoingActivity};
pub use auth::{AuthSettings, AuthenticatedActivity, TeamsActivity, TeamsAuthenticator};
pub use connector::{ConnectorClient, RetryPolicy, TeamsError};
pub use service_url::{ServiceUrl, ServiceUrlAllowlist};
