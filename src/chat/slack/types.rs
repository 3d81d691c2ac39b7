//! Request and response bodies of the Web API methods the bot calls, with
//! Slack's field names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize)]
pub struct PostMessage {
    /// A channel id, or the `D…` id `conversations.open` returned for a DM.
    pub channel: String,
    /// The notification fallback when `blocks` are given.
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    /// `{"event_type", "event_payload"}`: what the bot marks a delivery
    /// with, to find it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// A page of `conversations.history`.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryPage {
    pub messages: Vec<HistoryMessage>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub response_metadata: Option<ResponseMetadata>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HistoryMessage {
    pub ts: String,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResponseMetadata {
    #[serde(default)]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateMessage {
    /// Must be the `D…` id for a DM, never the user id.
    pub channel: String,
    pub ts: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PostEphemeral {
    pub channel: String,
    pub user: String,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EphemeralPosted {
    pub message_ts: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ViewInfo {
    pub id: String,
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub callback_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub root_view_id: Option<String>,
}

/// Which view `views.update` replaces.
#[derive(Debug, Clone)]
pub enum ViewRef {
    Id(String),
    External(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct SlackUser {
    pub id: String,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub profile: Profile,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Present only when the token has `users:read.email`.
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthTest {
    pub url: String,
    pub team: String,
    pub user: String,
    pub team_id: String,
    pub user_id: String,
    #[serde(default)]
    pub bot_id: Option<String>,
    /// True for an org-wide (Enterprise Grid) install, whose token is not
    /// one workspace's.
    #[serde(default)]
    pub is_enterprise_install: bool,
}
