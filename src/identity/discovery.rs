//! Entra's OpenID configuration and signing keys, for account linking.
//!
//! Fetched on first use (start-up never depends on Entra), again once a
//! day old, and when an ID token names a key we do not have: Entra rolls
//! its signing keys over periodically and, in an emergency, at once
//! ("Signing key rollover in the Microsoft identity platform"), so a key
//! set fetched once fails every sign-in after the next rollover. One fetch
//! at a time: callers that waited share its outcome. After a failed
//! refresh the last good configuration stays in use and the next attempt
//! waits for a backoff, so sign-ins do not each wait for a failing fetch.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use openidconnect::core::{CoreClient, CoreIdToken, CoreProviderMetadata};
use openidconnect::{
    ClaimsVerificationError, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, RedirectUrl, SignatureVerificationError,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub type EntraClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Our app registration, as the client is built from it.
#[derive(Debug, Clone)]
pub struct EntraApp {
    /// `{login}/{tenant}/v2.0`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
}

impl EntraApp {
    /// From `[entra]` and the public URL (the redirect URI is
    /// `{public_base_url}/auth/callback`).
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let login = settings.entra.login_base_url.trim_end_matches('/');
        let public = settings.server.public_base_url.trim_end_matches('/');
        Self {
            issuer: format!("{login}/{}/v2.0", settings.entra.tenant_id),
            client_id: settings.entra.client_id.clone(),
            client_secret: settings.entra.client_secret.clone(),
            redirect_uri: format!("{public}/auth/callback"),
        }
    }
}

/// When the configuration is fetched again.
#[derive(Debug, Clone)]
pub struct DiscoveryRules {
    /// Refetch when the configuration is this old (on the next use).
    pub max_age: Duration,
    /// At most one refetch for unknown `kid`s per this interval.
    pub unknown_kid_interval: Duration,
    /// After a failed refresh the last good configuration is used this long
    /// (doubling, with jitter, up to `retry_max`) before trying again.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for DiscoveryRules {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(24 * 3600),
            // Microsoft.IdentityModel's minimum refresh interval.
            unknown_kid_interval: Duration::from_secs(5 * 60),
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(5 * 60),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    #[error("invalid issuer URL: {0}")]
    Issuer(String),
    #[error("invalid redirect URI: {0}")]
    RedirectUri(String),
    #[error("OpenID discovery failed: {0}")]
    Fetch(String),
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token failed a check (signature, issuer, audience, expiry, nonce).
    #[error(transparent)]
    Rejected(ClaimsVerificationError),
    /// Its key is unknown and the keys could not be refetched.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

#[derive(Clone)]
struct Discovered {
    client: Arc<EntraClient>,
    fetched_at: Instant,
}

/// What every caller may read without waiting.
#[derive(Default)]
struct Snapshot {
    discovered: Option<Discovered>,
    /// Fetches finished (either way): a caller that saw `n` and finds more
    /// after waiting for the lock shares that fetch instead of repeating it.
    attempts: u64,
    failure: Option<DiscoveryError>,
}

/// The refresh rules' memory, behind the one-fetch-at-a-time lock.
#[derive(Default)]
struct Refreshes {
    last_unknown_kid: Option<Instant>,
    retry_at: Option<Instant>,
    backoff: Option<ExponentialBackoff>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// Nothing cached, or the cached configuration is too old.
    Due,
    /// An ID token names a key the cached configuration lacks.
    UnknownKid,
}

pub struct Discovery {
    http: reqwest::Client,
    app: EntraApp,
    rules: DiscoveryRules,
    snapshot: RwLock<Snapshot>,
    refreshes: tokio::sync::Mutex<Refreshes>,
}

impl Discovery {
    /// Fetches nothing until first used.
    pub fn new(http: reqwest::Client, app: EntraApp) -> Self {
        Self {
            http,
            app,
            rules: DiscoveryRules::default(),
            snapshot: RwLock::default(),
            refreshes: tokio::sync::Mutex::default(),
        }
    }

    #[must_use]
    pub fn with_rules(mut self, rules: DiscoveryRules) -> Self {
        self.rules = rules;
        self
    }

    /// The client for Entra's endpoints, fetched when missing or too old.
    pub async fn client(&self) -> Result<Arc<EntraClient>, DiscoveryError> {
        Ok(self.current().await?.0)
    }

    /// Verifies an ID token's signature, issuer, audience, expiry and
    /// nonce. A token signed with a key we do not know makes the keys be
    /// fetched again (rate-limited) and is verified once more with them.
    pub async fn verify_id_token(
        &self,
        id_token: &CoreIdToken,
        nonce: &Nonce,
    ) -> Result<(), VerifyError> {
        let (client, seen) = self.current().await?;
        let error = match id_token.claims(&client.id_token_verifier(), nonce) {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        if !matches!(
            error,
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey
            )
        ) {
            return Err(VerifyError::Rejected(error));
        }
        let (fresh, _) = self.refresh(seen, Trigger::UnknownKid).await?;
        if Arc::ptr_eq(&fresh, &client) {
            // Not refetched (rate limit or backoff): the key stays unknown.
            return Err(VerifyError::Rejected(error));
        }
        tracing::info!("an ID token was signed with a new Entra key; keys refetched");
        id_token
            .claims(&fresh.id_token_verifier(), nonce)
            .map(|_| ())
            .map_err(VerifyError::Rejected)
    }

    fn snapshot(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The client to use now, and the fetch count it was read at.
    async fn current(&self) -> Result<(Arc<EntraClient>, u64), DiscoveryError> {
        let seen = {
            let snapshot = self.snapshot();
            if let Some(d) = &snapshot.discovered
                && d.fetched_at.elapsed() < self.rules.max_age
            {
                return Ok((Arc::clone(&d.client), snapshot.attempts));
            }
            snapshot.attempts
        };
        self.refresh(seen, Trigger::Due).await
    }

    /// Fetches again unless another caller did since `seen`, or the rules
    /// say to keep the cached client. Returns the client to use and the
    /// fetch count it belongs to.
    async fn refresh(
        &self,
        seen: u64,
        trigger: Trigger,
    ) -> Result<(Arc<EntraClient>, u64), DiscoveryError> {
        let mut refreshes = self.refreshes.lock().await;
        let (cached, attempts, failure) = {
            let s = self.snapshot();
            let cached = s.discovered.as_ref().map(|d| Arc::clone(&d.client));
            (cached, s.attempts, s.failure.clone())
        };
        if attempts != seen {
            // Fetched while this caller waited for the lock: share it.
            return match (cached, failure) {
                (Some(client), _) => Ok((client, attempts)),
                (None, failure) => Err(failure.unwrap_or_else(|| {
                    DiscoveryError::Fetch("no configuration was fetched".into())
                })),
            };
        }
        let now = Instant::now();
        if let Some(client) = &cached {
            let backing_off = refreshes.retry_at.is_some_and(|at| now < at);
            let limited = trigger == Trigger::UnknownKid
                && refreshes
                    .last_unknown_kid
                    .is_some_and(|at| now.duration_since(at) < self.rules.unknown_kid_interval);
            if backing_off || limited {
                return Ok((Arc::clone(client), attempts));
            }
            if trigger == Trigger::UnknownKid {
                refreshes.last_unknown_kid = Some(now);
            }
        }
        let outcome = self.fetch().await;
        let mut s = self.snapshot.write().unwrap_or_else(|p| p.into_inner());
        s.attempts += 1;
        match outcome {
            Ok(client) => {
                let client = Arc::new(client);
                s.discovered = Some(Discovered {
                    client: Arc::clone(&client),
                    fetched_at: Instant::now(),
                });
                s.failure = None;
                refreshes.retry_at = None;
                refreshes.backoff = None;
                Ok((client, s.attempts))
            }
            Err(error) => {
                let rules = &self.rules;
                let delay = refreshes
                    .backoff
                    .get_or_insert_with(|| {
                        ExponentialBuilder::default()
                            .with_min_delay(rules.retry_min)
                            .with_max_delay(rules.retry_max)
                            .with_jitter()
                            .without_max_times()
                            .build()
                    })
                    .next()
                    .unwrap_or(rules.retry_max);
                refreshes.retry_at = Some(Instant::now() + delay);
                s.failure = Some(error.clone());
                match cached {
                    Some(client) if trigger == Trigger::Due => {
                        tracing::warn!(%error, retry_in = ?delay, "cannot refresh Entra's OpenID configuration; using the last good one");
                        Ok((client, s.attempts))
                    }
                    _ => Err(error),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<EntraClient, DiscoveryError> {
        let issuer = IssuerUrl::new(self.app.issuer.clone())
            .map_err(|e| DiscoveryError::Issuer(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| DiscoveryError::Fetch(e.to_string()))?;
        let redirect = RedirectUrl::new(self.app.redirect_uri.clone())
            .map_err(|e| DiscoveryError::RedirectUri(e.to_string()))?;
        tracing::debug!(
            keys = metadata.jwks().keys().len(),
            "fetched Entra's OpenID configuration"
        );
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.app.client_id.clone()),
            Some(ClientSecret::new(
                self.app.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }
}
