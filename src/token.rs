//! The app's own tokens by client credentials from Microsoft Entra, cached
//! and refreshed ahead of expiry; concurrent callers share one refresh. Here
//! rather than under Graph because the Bot Connector needs the same flow for
//! another scope, and neither client should depend on the other.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

/// Why no token could be had; each client wraps it in its own typed error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot obtain a token from Microsoft Entra: {0}")]
pub struct TokenError(pub String);

/// Refresh this long before the token's stated expiry.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

pub struct AppTokenSource {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    scope: String,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

impl std::fmt::Debug for AppTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokenSource")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct EntraErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl AppTokenSource {
    /// `login_base_url` is `https://login.microsoftonline.com` (or the
    /// sandbox's); `scope` is e.g. `https://graph.microsoft.com/.default`.
    pub fn new(
        http: reqwest::Client,
        login_base_url: &str,
        tenant_id: &str,
        client_id: &str,
        client_secret: SecretString,
        scope: &str,
    ) -> Self {
        Self {
            http,
            token_url: format!(
                "{}/{tenant_id}/oauth2/v2.0/token",
                login_base_url.trim_end_matches('/')
            ),
            client_id: client_id.to_owned(),
            client_secret,
            scope: scope.to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// A valid token, fetching a new one only when the cached one is due.
    pub async fn token(&self) -> Result<SecretString, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token (after the service refused it).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<Cached, TokenError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("scope", self.scope.as_str()),
        ];
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| TokenError(format!("token endpoint unreachable: {}", e.without_url())))?;
        if !response.status().is_success() {
            let status = response.status();
            let body: EntraErrorBody = response.json().await.unwrap_or(EntraErrorBody {
                error: status.to_string(),
                error_description: String::new(),
            });
            // error_description is Entra's text (AADSTS…); it never holds secrets.
            return Err(TokenError(format!(
                "{}: {}",
                body.error, body.error_description
            )));
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| TokenError(format!("malformed token response: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in);
        let refresh_at = Instant::now() + lifetime.saturating_sub(REFRESH_AHEAD).max(lifetime / 2);
        Ok(Cached {
            token: SecretString::from(body.access_token),
            refresh_at,
        })
    }
}
