//! `[entra]`, `[identity]` and `[graph]`: the bot's app registration,
//! account linking and where Graph lives.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::serde_fns::{expose_secret, expose_secret_map};

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

fn default_login_base_url() -> String {
    "https://login.microsoftonline.com".into()
}
