//! Typed, layered configuration: defaults → TOML file → environment.
//!
//! Environment variables are `STAGEGATE_SECTION__KEY`; every key also accepts
//! `STAGEGATE_SECTION__KEY_FILE` naming a file whose contents are the value, so
//! secrets can come from mounted files. Unknown keys are rejected, so a typo
//! fails at start-up instead of silently falling back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

mod loopback;
pub mod shipped_secrets;

pub use loopback::{is_loopback_bind, is_loopback_url, origin_of};
pub use shipped_secrets::ShippedSecretsOffLoopback;

pub const ENV_PREFIX: &str = "STAGEGATE_";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    #[serde(default)]
    pub log: LogSettings,
    pub entra: EntraSettings,
    pub identity: IdentitySettings,
    #[serde(default)]
    pub graph: GraphSettings,
    #[serde(default)]
    pub teams: Option<TeamsSettings>,
    #[serde(default)]
    pub slack: Option<SlackSettings>,
    #[serde(default)]
    pub intake: IntakeSettings,
    #[serde(default)]
    pub engine: EngineSettings,
}

/// The approval engine: which access packages chat may request, limits,
/// timers and the security channel.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Packages people may ask for by alias.
    pub packages: Vec<PackageSettings>,
    /// Minutes before a stage's decision deadline that approvers are reminded.
    pub reminder_lead_minutes: i64,
    /// Minutes before an assignment expires that the requester is warned.
    pub expiry_warning_minutes: i64,
    /// Chat commands one person may send per minute before "slow down".
    pub commands_per_minute: u32,
    /// Card clicks (approve, deny, activate, extend) one person may make
    /// per minute before "slow down".
    pub clicks_per_minute: u32,
    /// Messages per second sent to one destination (person or channel), on
    /// top of the platforms' own limits, which the chat clients always keep;
    /// 0 (the default) adds no cap of our own.
    pub messages_per_second_per_destination: u32,
    /// Seconds an outbox job stays claimed before another worker may retry it.
    pub outbox_lease_seconds: i64,
    /// Attempts before an outbox job is given up (and logged).
    pub outbox_max_attempts: i64,
    /// Seconds a post whose answer was lost (the bot killed, the connection
    /// dropped) is given to land before the bot looks for it in the chat
    /// instead of posting again.
    pub outbox_settle_seconds: i64,
    /// Platform (`teams` or `slack`) and channel id of one security channel
    /// (the single-table form, kept for existing configs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_channel: Option<SecurityChannelSettings>,
    /// Security channels, on one platform or both; every alert goes to each
    /// (one outbox job per channel). Alerts are only logged when neither
    /// this nor `security_channel` is set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_channels: Vec<SecurityChannelSettings>,
}

impl EngineSettings {
    /// Every configured security channel, `security_channel` first, each once.
    #[must_use]
    pub fn all_security_channels(&self) -> Vec<SecurityChannelSettings> {
        let mut all: Vec<SecurityChannelSettings> = Vec::new();
        for channel in self
            .security_channel
            .iter()
            .chain(self.security_channels.iter())
        {
            if !all.contains(channel) {
                all.push(channel.clone());
            }
        }
        all
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            packages: Vec::new(),
            reminder_lead_minutes: 120,
            expiry_warning_minutes: 60,
            commands_per_minute: 20,
            clicks_per_minute: 30,
            messages_per_second_per_destination: 0,
            outbox_lease_seconds: 60,
            outbox_max_attempts: 10,
            outbox_settle_seconds: 15,
            security_channel: None,
            security_channels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityChannelSettings {
    pub platform: String,
    pub channel: String,
}

/// One requestable access package.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSettings {
    /// What people type: `request <alias> <ticket> …`.
    pub alias: String,
    pub display_name: String,
    pub access_package_id: String,
    pub policy_id: String,
    /// The policy's ticket question (`accessPackageTextInputQuestion` id).
    pub ticket_question_id: String,
    /// Regular expression a ticket must match entirely.
    pub ticket_pattern: String,
    /// The PIM-managed group the package makes the requester eligible for.
    pub group_id: String,
    /// The Entra role the group carries, for cards and alerts.
    #[serde(default)]
    pub role: Option<String>,
    /// Ticket system name sent with activations (`ticketInfo.ticketSystem`).
    #[serde(default = "default_ticket_system")]
    pub ticket_system: String,
    #[serde(default)]
    pub justification_required: bool,
    #[serde(default)]
    pub hidden: bool,
    /// Approvers of this package must have signed in with multifactor
    /// authentication within `approval_mfa_max_age_minutes` before a
    /// decision is relayed; otherwise they get a step-up sign-in link and
    /// the decision completes by itself afterwards.
    #[serde(default)]
    pub approval_requires_mfa: bool,
    #[serde(default = "default_approval_mfa_max_age_minutes")]
    pub approval_mfa_max_age_minutes: u32,
}

fn default_approval_mfa_max_age_minutes() -> u32 {
    10
}

fn default_ticket_system() -> String {
    "ITSM".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address the bot listens on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// The bot's public base URL (what Teams, Slack and Entra call back).
    pub public_base_url: String,
    /// How long in-flight requests may run after a shutdown signal.
    pub shutdown_grace_seconds: u64,
    /// Per-request timeout for inbound HTTP requests.
    pub request_timeout_seconds: u64,
    /// Connections open at once; beyond it the bot stops accepting until
    /// one closes (they wait in the kernel's backlog).
    pub max_connections: usize,
    /// Requests handled at once; beyond it a request is answered 503 with
    /// `Retry-After` before its body is read.
    pub max_in_flight_requests: usize,
    /// Seconds a client may take to send a request's headers; then the
    /// connection is closed.
    pub header_read_timeout_seconds: u64,
    /// Seconds a request's body may take to arrive after its headers; then
    /// it is answered 408.
    pub body_read_timeout_seconds: u64,
}

impl ServerSettings {
    /// The limits must let at least something through, and a body deadline
    /// past the request timeout would never fire.
    pub fn check_limits(&self) -> Result<(), String> {
        for (key, value) in [
            ("server.max_connections", self.max_connections as u64),
            (
                "server.max_in_flight_requests",
                self.max_in_flight_requests as u64,
            ),
            (
                "server.header_read_timeout_seconds",
                self.header_read_timeout_seconds,
            ),
            (
                "server.body_read_timeout_seconds",
                self.body_read_timeout_seconds,
            ),
        ] {
            if value == 0 {
                return Err(format!("{key} must be at least 1"));
            }
        }
        if self.body_read_timeout_seconds > self.request_timeout_seconds {
            return Err(format!(
                "server.body_read_timeout_seconds ({}) must not exceed server.request_timeout_seconds ({})",
                self.body_read_timeout_seconds, self.request_timeout_seconds
            ));
        }
        Ok(())
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3978)),
            public_base_url: "http://127.0.0.1:3978".into(),
            shutdown_grace_seconds: 10,
            request_timeout_seconds: 30,
            // Under a default soft limit of 1,024 file descriptors, with room
            // for the database and outbound connections.
            max_connections: 512,
            max_in_flight_requests: 128,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// SQLite database file; created if missing.
    pub path: PathBuf,
    pub max_connections: u32,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::from("stagegate.db"),
            max_connections: 8,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter directive, e.g. `info,stagegate=debug`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            filter: "info".into(),
        }
    }
}

/// The bot's Entra app registration and where Entra lives.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EntraSettings {
    pub tenant_id: String,
    pub client_id: String,
    #[serde(serialize_with = "expose_secret")]
    pub client_secret: SecretString,
    #[serde(default = "default_login_base_url")]
    pub login_base_url: String,
}

/// Account linking and the token vault.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// Encryption keys for stored refresh tokens: key id → base64 of 32
    /// random bytes (`openssl rand -base64 32`). Keep old keys to read old
    /// values while rotating.
    #[serde(serialize_with = "expose_secret_map")]
    pub vault_keys: std::collections::BTreeMap<String, SecretString>,
    /// The key id new values are sealed with.
    pub vault_primary_key: String,
    /// Lifetime of sign-in links sent in chat.
    #[serde(default = "default_link_ttl")]
    pub link_ttl_seconds: u64,
    /// Delegated Graph permissions people grant when they sign in.
    #[serde(default = "default_delegated_scopes")]
    pub scopes: Vec<String>,
    /// A Slack account is linked only to the Entra account whose `mail` or
    /// user principal name is the Slack profile's email. Where people's
    /// Slack emails use another domain than their Entra accounts, map it
    /// here: Slack email domain → Entra domain (`"corp.example" =
    /// "contoso.com"` lets `alex@corp.example` link `alex@contoso.com`).
    #[serde(default)]
    pub slack_email_domains: std::collections::BTreeMap<String, String>,
}

fn default_link_ttl() -> u64 {
    600
}

pub fn default_delegated_scopes() -> Vec<String> {
    [
        "https://graph.microsoft.com/EntitlementManagement.ReadWrite.All",
        "https://graph.microsoft.com/PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
        "https://graph.microsoft.com/PrivilegedEligibilitySchedule.Read.AzureADGroup",
        "https://graph.microsoft.com/RoleManagementPolicy.Read.AzureADGroup",
    ]
    .map(String::from)
    .to_vec()
}

fn expose_secret_map<S: serde::Serializer>(
    map: &std::collections::BTreeMap<String, SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    use serde::ser::SerializeMap;
    let mut out = s.serialize_map(Some(map.len()))?;
    for (k, v) in map {
        out.serialize_entry(k, v.expose_secret())?;
    }
    out.end()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphSettings {
    pub base_url: String,
    pub timeout_seconds: u64,
}

impl Default for GraphSettings {
    fn default() -> Self {
        Self {
            base_url: "https://graph.microsoft.com/v1.0".into(),
            timeout_seconds: 30,
        }
    }
}

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

/// The three intakes (Graph change notifications, custom-extension callouts
/// via the Logic App relay, the reconciling poller). Each endpoint is off
/// until its secret is set; limits are checked when the bot starts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeSettings {
    /// `clientState` of stagegate's Graph subscriptions, checked on every
    /// change notification; 32 to 128 characters. Unset: no subscriptions
    /// and `/api/graph/notifications` answers 404.
    #[serde(serialize_with = "expose_opt_secret")]
    pub client_state: Option<SecretString>,
    /// Shared secret the Logic App relay sends in `X-Stagegate-Relay-Secret`;
    /// at least 32 characters. Unset: `/api/graph/callouts` answers 404.
    #[serde(serialize_with = "expose_opt_secret")]
    pub callout_secret: Option<SecretString>,
    /// Object ids of the privileged (PIM-managed) groups whose membership is
    /// watched with a `/groups/{id}/members` subscription each. A string is
    /// read as a comma-separated list (for the environment variable).
    #[serde(deserialize_with = "list_or_csv")]
    pub privileged_groups: Vec<String>,
    /// Seconds between two reconciles of every open request (the poller).
    pub poll_interval_seconds: u64,
    /// Largest accepted request body on the intake endpoints (bytes).
    pub body_limit_bytes: usize,
    /// Lifetime asked for each subscription, in minutes (Graph allows at
    /// most 41,760 for groups).
    pub subscription_lifetime_minutes: i64,
    /// Renew a subscription this many minutes before it expires.
    pub renewal_margin_minutes: i64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            client_state: None,
            callout_secret: None,
            privileged_groups: Vec::new(),
            poll_interval_seconds: 60,
            body_limit_bytes: 256 * 1024,
            subscription_lifetime_minutes: 4_320,
            renewal_margin_minutes: 1_440,
        }
    }
}

fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match ListOrCsv::deserialize(d)? {
        ListOrCsv::List(list) => list,
        ListOrCsv::Csv(csv) => csv
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn expose_opt_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => s.serialize_some(secret.expose_secret()),
        None => s.serialize_none(),
    }
}

fn default_login_base_url() -> String {
    "https://login.microsoftonline.com".into()
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

// Only used to feed settings built in code (the sandbox) back through figment;
// `Settings` is never serialized anywhere a person can read it.
fn expose_secret<S: serde::Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    s.serialize_str(secret.expose_secret())
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {var}: cannot read the file it names ({path}): {source}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Marks every secret of the shipped sandbox config (recognised in the text
/// and once decoded, besides the fingerprints of `shipped_secrets`).
pub const SANDBOX_SECRET_MARKER: &str = "not-for-production";

impl Settings {
    /// Loads defaults → `file` (if given, it must exist) → environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match file {
            Some(path) => Some(
                std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?,
            ),
            None => None,
        };
        Self::from_toml(text.as_deref(), file, env)
    }

    /// Defaults → the TOML `text` (read from `file`, named in errors) →
    /// environment.
    pub fn from_toml(
        text: Option<&str>,
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(text) = text {
            figment = figment.merge(Toml::string(text));
        }
        figment = figment.merge(env_provider(env)?);
        figment.extract().map_err(|e| describe(e, file))
    }

    /// Refuses secrets stagegate ships publicly (the sandbox's, the example
    /// config's placeholders, test values) unless the bot listens on loopback
    /// and every Microsoft and Slack endpoint is on loopback, so nobody runs
    /// production on them (see [`shipped_secrets`]).
    pub fn refuse_sandbox_secrets_off_loopback(&self) -> Result<(), ShippedSecretsOffLoopback> {
        shipped_secrets::refuse_off_loopback(self)
    }

    /// Layers the environment over settings built in code (used by the sandbox).
    pub fn with_env_overrides(
        self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(self))
            .merge(env_provider(env)?)
            .extract()
            .map_err(|e| describe(e, None))
    }
}

/// Turns `STAGEGATE_A__B=v` into `a.b = v` and `STAGEGATE_A__B_FILE=p` into
/// `a.b = <contents of p>`.
fn env_provider(
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Serialized<toml::Table>, ConfigError> {
    let mut root = toml::Table::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let (key_path, value) = match rest.strip_suffix("_FILE") {
            Some(key) => {
                let path = PathBuf::from(&raw);
                let contents =
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
                        var: var.clone(),
                        path,
                        source,
                    })?;
                (
                    key.to_owned(),
                    contents.trim_end_matches(['\r', '\n']).to_owned(),
                )
            }
            None => (rest.to_owned(), raw),
        };
        let parts: Vec<String> = key_path
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        if parts.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid(format!(
                "environment variable {var}: expected {ENV_PREFIX}SECTION__KEY"
            )));
        }
        insert_path(&mut root, &parts, parse_env_value(&value));
    }
    Ok(Serialized::defaults(root))
}

fn insert_path(table: &mut toml::Table, parts: &[String], value: toml::Value) {
    let (last, parents) = parts.split_last().expect("non-empty key path");
    let mut cursor = table;
    for part in parents {
        let entry = cursor
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cursor = entry.as_table_mut().expect("just made a table");
    }
    cursor.insert(last.clone(), value);
}

/// Environment values are strings; numbers and booleans are recognised so
/// `STAGEGATE_SERVER__SHUTDOWN_GRACE_SECONDS=5` works.
fn parse_env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn describe(error: figment::Error, file: Option<&Path>) -> ConfigError {
    let messages: Vec<String> = error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let env = if key.is_empty() {
                String::new()
            } else {
                format!(" (env {})", env_name(&e.path))
            };
            let what = match &e.kind {
                figment::error::Kind::MissingField(field) => {
                    let full = if key.is_empty() {
                        field.to_string()
                    } else {
                        format!("{key}.{field}")
                    };
                    let parts: Vec<String> = full.split('.').map(str::to_owned).collect();
                    return format!("missing required key `{full}` (env {})", env_name(&parts));
                }
                figment::error::Kind::UnknownField(field, expected) => {
                    let full = if key.is_empty() {
                        field.to_string()
                    } else {
                        format!("{key}.{field}")
                    };
                    return format!(
                        "unknown key `{full}`; expected one of: {}",
                        expected.join(", ")
                    );
                }
                other => other.to_string(),
            };
            format!("key `{key}`{env}: {what}")
        })
        .collect();
    let origin = file
        .map(|p| format!(" (file {})", p.display()))
        .unwrap_or_default();
    ConfigError::Invalid(format!(
        "invalid configuration{origin}: {}",
        messages.join("; ")
    ))
}

fn env_name(path: &[String]) -> String {
    format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase())
}
