//! Claims of the tokens the emulated Entra issues, shared by the issuer
//! (`sandbox::entra`) and the verifier (`sandbox::graph::auth`).
//!
//! Microsoft Graph accepts v1.0-format access tokens (Graph's
//! `accessTokenAcceptedVersion` is 1), so Graph tokens carry
//! `iss = https://sts.windows.net/{tid}/`, `aud = https://graph.microsoft.com`
//! and `appid`; ID tokens and tokens for other audiences are v2.0-format with
//! `azp`.

use serde::{Deserialize, Serialize};

/// The audience Graph tokens carry.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// Graph's well-known application id, also accepted as audience.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// An access token's claims, delegated (`scp`) or application (`roles`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub tid: String,
    /// The user's object id (delegated) or the app's service principal id.
    pub oid: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acrs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// `app` for application tokens, `user` for delegated ones.
    pub idtyp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    pub ver: String,
    pub uti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

impl AccessClaims {
    pub fn is_app(&self) -> bool {
        self.idtyp == "app"
    }

    pub fn scopes(&self) -> Vec<&str> {
        self.scp
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }

    pub fn has_mfa(&self) -> bool {
        self.amr.iter().any(|m| m == "mfa")
    }
}

/// ID token claims (v2.0) for the authorization-code flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IdClaims {
    pub aud: String,
    pub iss: String,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub name: String,
    pub preferred_username: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    pub ver: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Issuer of v1.0-format tokens for `tenant`.
pub fn v1_issuer(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}
