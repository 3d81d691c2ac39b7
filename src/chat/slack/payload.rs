//! What Slack sends the bot, parsed only after [`super::verify`] accepted it
//! (docs/architecture.md, "Slack payloads"): slash commands as form fields,
//! interactions as a form with one `payload` field holding JSON.
//!
//! Field names are Slack's. The deprecated verification `token` is not kept:
//! the signature is what authenticates, and the token should not linger in
//! memory or `Debug` output.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::verify::VerifiedRequest;

/// Everything the bot's Slack endpoints accept.
// One of these exists per request and is matched once, never stored in
// bulk: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Inbound {
    Command(SlashCommand),
    Interaction(Interaction),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the form body is not a slash command: {0}")]
    Command(String),
    #[error("the `payload` field is not an interaction payload: {0}")]
    Interaction(String),
}

impl Inbound {
    /// Parses a verified body the way bolt-js does: a form with a `payload`
    /// field is an interaction, any other form a slash command.
    pub fn parse(request: &VerifiedRequest) -> Result<Self, PayloadError> {
        Self::parse_body(&request.body)
    }

    /// Parsing without the proof of verification; for fixtures and tests.
    pub fn parse_body(body: &[u8]) -> Result<Self, PayloadError> {
        if let Some((_, payload)) = url::form_urlencoded::parse(body).find(|(k, _)| k == "payload")
        {
            let interaction: Interaction = serde_json::from_str(&payload)
                .map_err(|e| PayloadError::Interaction(e.to_string()))?;
            return Ok(Self::Interaction(interaction));
        }
        let command: SlashCommand =
            serde_urlencoded::from_bytes(body).map_err(|e| PayloadError::Command(e.to_string()))?;
        Ok(Self::Command(command))
    }
}

/// A slash command invocation (bolt-js `SlashCommand`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SlashCommand {
    pub command: String,
    /// Everything after the command name.
    #[serde(default)]
    pub text: String,
    pub response_url: String,
    pub trigger_id: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: String,
    pub team_id: String,
    #[serde(default)]
    pub team_domain: String,
    pub channel_id: String,
    #[serde(default)]
    pub channel_name: String,
    #[serde(default)]
    pub api_app_id: Option<String>,
    #[serde(default)]
    pub enterprise_id: Option<String>,
    #[serde(default)]
    pub enterprise_name: Option<String>,
    /// A string (`"true"`/`"false"`) in commands, unlike in interactions.
    #[serde(default)]
    pub is_enterprise_install: Option<String>,
}

/// An interaction payload, by its `type`.
#[allow(clippy::large_enum_variant)] // as for `Inbound`
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interaction {
    BlockActions(BlockActions),
    ViewSubmission(ViewSubmission),
    ViewClosed(ViewClosed),
    /// Shortcuts, options requests and the rest: acknowledged, not handled.
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub team_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub enterprise_id: Option<String>,
    #[serde(default)]
    pub enterprise_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// Where the clicked element lives.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Container {
    Message {
        message_ts: String,
        channel_id: String,
        #[serde(default)]
        is_ephemeral: bool,
    },
    MessageAttachment {
        message_ts: String,
        channel_id: String,
        #[serde(default)]
        attachment_id: Option<u32>,
        #[serde(default)]
        is_ephemeral: bool,
        #[serde(default)]
        is_app_unfurl: bool,
    },
    View {
        view_id: String,
    },
}

/// The message the action came from; absent for ephemeral messages.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub ts: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub blocks: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TextObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    #[serde(default)]
    pub emoji: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Action {
    #[serde(rename = "type")]
    pub kind: String,
    pub action_id: String,
    pub block_id: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub text: Option<TextObject>,
    #[serde(default)]
    pub style: Option<String>,
    pub action_ts: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct State {
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, InputValue>>,
}

/// One input's value in `state.values[block_id][action_id]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct InputValue {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// A click on a button (bolt-js `BlockAction`).
#[derive(Debug, Clone, Deserialize)]
pub struct BlockActions {
    pub user: User,
    #[serde(default)]
    pub team: Option<Team>,
    pub api_app_id: String,
    pub trigger_id: String,
    #[serde(default)]
    pub response_url: Option<String>,
    pub container: Container,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub view: Option<View>,
    #[serde(default)]
    pub state: Option<State>,
    pub actions: Vec<Action>,
    /// A boolean here, unlike in slash commands.
    #[serde(default)]
    pub is_enterprise_install: Option<bool>,
}

impl BlockActions {
    /// The channel and ts to `chat.update` the clicked message with: the
    /// container's (a `D…` id for a DM), falling back to the message's.
    pub fn message_ref(&self) -> Option<(&str, &str)> {
        match &self.container {
            Container::Message {
                message_ts,
                channel_id,
                ..
            }
            | Container::MessageAttachment {
                message_ts,
                channel_id,
                ..
            } => Some((channel_id.as_str(), message_ts.as_str())),
            Container::View { .. } => None,
        }
    }
}

/// A modal (bolt-js `ViewOutput`).
#[derive(Debug, Clone, Deserialize)]
pub struct View {
    pub id: String,
    #[serde(default)]
    pub team_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub callback_id: String,
    #[serde(default)]
    pub private_metadata: String,
    #[serde(default)]
    pub state: State,
    #[serde(default)]
    pub hash: Option<String>,
    #[serde(default)]
    pub title: Option<TextObject>,
    #[serde(default)]
    pub blocks: Vec<Value>,
    #[serde(default)]
    pub root_view_id: Option<String>,
    #[serde(default)]
    pub previous_view_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
}

impl View {
    /// The value typed into input `block_id`/`action_id`, if any.
    pub fn input(&self, block_id: &str, action_id: &str) -> Option<&str> {
        self.state
            .values
            .get(block_id)?
            .get(action_id)?
            .value
            .as_deref()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ResponseUrlEntry {
    pub block_id: String,
    pub action_id: String,
    pub channel_id: String,
    pub response_url: String,
}

/// A modal's Submit (bolt-js `ViewSubmitAction`).
#[derive(Debug, Clone, Deserialize)]
pub struct ViewSubmission {
    pub user: User,
    #[serde(default)]
    pub team: Option<Team>,
    pub api_app_id: String,
    #[serde(default)]
    pub trigger_id: Option<String>,
    pub view: View,
    #[serde(default)]
    pub response_urls: Vec<ResponseUrlEntry>,
    #[serde(default)]
    pub is_enterprise_install: Option<bool>,
}

/// A modal closed with `notify_on_close: true`.
#[derive(Debug, Clone, Deserialize)]
pub struct ViewClosed {
    pub user: User,
    #[serde(default)]
    pub team: Option<Team>,
    pub view: View,
    #[serde(default)]
    pub is_cleared: bool,
}
