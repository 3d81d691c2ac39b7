//! Typed, layered configuration: defaults → TOML file → environment.
//!
//! Environment variables are `STAGEGATE_SECTION__KEY`; every key also accepts
//! `STAGEGATE_SECTION__KEY_FILE` naming a file whose contents are the value, so
//! secrets can come from mounted files. Unknown keys are rejected, so a typo
//! fails at start-up instead of silently falling back to a default.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod chat;
mod engine;
mod identity;
mod intake;
mod loopback;
mod serde_fns;
mod server;
pub mod shipped_secrets;
mod usable;

pub use chat::{SlackSettings, TeamsSettings};
pub use engine::{EngineSettings, PackageSettings, SecurityChannelSettings};
pub use identity::{EntraSettings, GraphSettings, IdentitySettings, default_delegated_scopes};
pub use intake::IntakeSettings;
pub use loopback::{is_loopback_bind, is_loopback_url, origin_of};
pub use server::{DatabaseSettings, LogFormat, LogSettings, ServerSettings};
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
