//! The Microsoft Teams adapter: inbound activity authentication
//! ([`auth`]), the Bot Connector client ([`connector`]), the activity types
//! ([`activity`]), the serviceUrl allowlist ([`service_url`]), the
//! Adaptive Cards ([`cards`]), the engine's port ([`adapter`]) and the
//! messaging endpoint ([`handlers`]).

pub mod activity;
pub(crate) mod adapter;
pub mod auth;
pub mod cards;
pub(crate) mod connector;
pub mod handlers;
pub mod service_url;
pub(crate) mod wiring;

pub use activity::{Activity, OutgoingActivity};
pub use auth::{AuthSettings, AuthenticatedActivity, TeamsActivity, TeamsAuthenticator};
pub use connector::{ConnectorClient, TeamsError};
pub use service_url::{ServiceUrl, ServiceUrlAllowlist};
