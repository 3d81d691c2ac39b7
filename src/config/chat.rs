//! `[teams]` and `[slack]`: the chat platforms' credentials and endpoints.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::serde_fns::{expose_secret, list_or_csv};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsSettings {
    /// The bot's Microsoft App ID (the Entra app registration of the bot).
    pub app_id: String,
    #[serde(serialize_with = "expose_secret")]
    pub app_password: SecretString,
    #[serde(default = "default_botframework_openid_url")]
    pub openid_metadata_url: String,
    /// The Bot Connector base used to reach people no activity has
    /// brought a serviceUrl for yet (Microsoft: "use
    /// `https://smba.trafficmanager.net/teams/`"; docs/architecture.md,
    /// "Teams activities and cards").
    #[serde(default = "default_teams_service_url")]
    pub service_url: String,
    /// Conversation id of the security channel (`19:…@thread.tacv2`);
    /// unset: the channel the bot is added to in a team is used.
    #[serde(default)]
    pub security_channel: Option<String>,
    /// Local development with Microsoft 365 Agents Playground only: accept
    /// activities without Bot Framework authentication. Refused at start
    /// unless the bot listens on loopback and Entra, Graph and `service_url`
    /// are on loopback; then only JSON from a loopback Host whose serviceUrl
    /// is `service_url` is accepted. Logged loudly when on.
    #[serde(default)]
    pub dev_no_auth: bool,
}

fn default_teams_service_url() -> String {
    "https://smba.trafficmanager.net/teams/".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSettings {
    #[serde(serialize_with = "expose_secret")]
    pub signing_secret: SecretString,
    #[serde(serialize_with = "expose_secret")]
    pub bot_token: SecretString,
    #[serde(default = "default_slack_api_base_url")]
    pub api_base_url: String,
    /// The Slack app's ID (`A…`, on the app's Basic Information page).
    /// Required: a command or interaction whose `api_app_id` differs is
    /// refused.
    pub app_id: String,
    /// The workspaces (`T…`) whose commands and clicks are served; any
    /// other team is refused. Empty: the bot token's own workspace, asked
    /// from `auth.test` once. A string is read as a comma-separated list.
    #[serde(default, deserialize_with = "list_or_csv")]
    pub team_ids: Vec<String>,
    /// Where `response_url`s may point: same scheme, host and port, and a
    /// path under this one. Any other `response_url` is never called (the
    /// answer goes through the Web API instead).
    #[serde(default = "default_slack_response_url_base")]
    pub response_url_base: String,
}

fn default_botframework_openid_url() -> String {
    "https://login.botframework.com/v1/.well-known/openidconfiguration".into()
}

fn default_slack_api_base_url() -> String {
    "https://slack.com/api".into()
}

fn default_slack_response_url_base() -> String {
    "https://hooks.slack.com/".into()
}
