//! Authenticates every activity the Bot Connector sends the bot, before its
//! body is used (docs/architecture.md, "Teams authentication"; the
//! botbuilder-js rules):
//!
//! - `Authorization: Bearer <JWT>`, RS256/RS384/RS512 only;
//! - the key (by `kid`) from the Bot Framework OpenID metadata's JWKS, kept
//!   fresh by a background task (daily, and once, rate-limited, on an
//!   unknown `kid`); requests never wait behind a failing fetch;
//! - the key's `endorsements` include `msteams` (and the activity's channel);
//! - `iss` = `https://api.botframework.com`, `aud` = the bot's app id,
//!   `exp`/`nbf` with 5 minutes of clock skew;
//! - the `serviceurl` claim equals the activity's `serviceUrl`;
//! - the activity's tenant is the bot's (single-tenant bot).
//!
//! The axum side is [`TeamsActivity`], an extractor: a handler that takes it
//! never runs for a refused request, which gets 401 and a log line naming
//! the reason (never the token).

#[cfg(test)]
mod key_tests;
mod keys;
mod refresher;
mod source;
mod verified;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::activity::Activity;
use super::service_url::{ServiceUrl, ServiceUrlAllowlist};
pub use keys::{CachedKey, FetchError, KeySet, KeySource, Keys, KeysUnavailable, RefreshRules};
pub use refresher::KeyRefresher;

pub const CHANNEL_ISSUER: &str = "https://api.botframework.com";
/// The endorsement every key that signs Teams activities carries.
pub const TEAMS_ENDORSEMENT: &str = "msteams";
const ALLOWED_ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];
/// "Industry-standard clock-skew is 5 minutes."
const CLOCK_SKEW_SECS: u64 = 300;
/// Longest one fetch of the keys may take (and a request wait for one).
const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the authenticator checks against.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub app_id: String,
    pub tenant_id: String,
    pub openid_metadata_url: String,
    /// The background refresh fetches the keys this long after its last
    /// success ("at least once every 24 hours").
    pub key_refresh_interval: Duration,
    /// At most one refetch for unknown `kid`s per this interval.
    pub unknown_kid_refetch_interval: Duration,
    /// The first retry after a failed fetch; doubled (with jitter) up to
    /// `key_retry_max_delay`.
    pub key_retry_min_delay: Duration,
    pub key_retry_max_delay: Duration,
    /// Largest activity body accepted.
    pub max_body_bytes: usize,
}

impl AuthSettings {
    pub fn new(app_id: &str, tenant_id: &str, openid_metadata_url: &str) -> Self {
        Self {
            app_id: app_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            openid_metadata_url: openid_metadata_url.to_owned(),
            key_refresh_interval: Duration::from_secs(24 * 3600),
            unknown_kid_refetch_interval: Duration::from_secs(5 * 60),
            key_retry_min_delay: Duration::from_secs(1),
            key_retry_max_delay: Duration::from_secs(5 * 60),
            max_body_bytes: 256 * 1024,
        }
    }
}

/// Why an activity was refused. Messages name the check, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    MissingToken,
    #[error("Authorization scheme is not Bearer")]
    WrongScheme,
    #[error("token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("token algorithm {0} is not allowed")]
    DisallowedAlgorithm(String),
    #[error("token signed with unknown key {0}")]
    UnknownKey(String),
    #[error("token signed with unknown key {0}, and the keys cannot be refreshed now: {1}")]
    UnknownKeyNotRefreshed(String, FetchError),
    #[error("signing key {0} is not endorsed for {1}")]
    NotEndorsed(String, String),
    #[error("token refused: {0}")]
    InvalidToken(String),
    #[error("serviceurl claim does not match the activity's serviceUrl")]
    ServiceUrlMismatch,
    #[error("activity tenant {0:?} is not the bot's tenant")]
    WrongTenant(Option<String>),
    #[error("no Bot Framework signing keys: {0}")]
    KeysUnavailable(KeysUnavailable),
    #[error("activity body too large")]
    TooLarge,
    #[error("activity body did not arrive in time")]
    BodyTimedOut,
    #[error("activity body is not a valid activity: {0}")]
    BadActivity(String),
}

impl AuthError {
    /// 401 for every authentication failure (botbuilder's CloudAdapter);
    /// 400 / 413 only for bodies of correctly authenticated requests.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimedOut => StatusCode::REQUEST_TIMEOUT,
            Self::BadActivity(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// An activity whose token, issuer, audience, key endorsement, serviceUrl
/// and tenant have all been checked.
#[derive(Debug, Clone)]
pub struct AuthenticatedActivity {
    pub activity: Activity,
    /// Bound to the activity by the signed `serviceurl` claim.
    pub service_url: ServiceUrl,
}

pub struct TeamsAuthenticator {
    settings: AuthSettings,
    keys: Arc<KeySet>,
    service_urls: Arc<ServiceUrlAllowlist>,
    verified: verified::VerifiedTokens,
}

impl std::fmt::Debug for TeamsAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsAuthenticator")
            .field("app_id", &self.settings.app_id)
            .finish_non_exhaustive()
    }
}

impl TeamsAuthenticator {
    pub fn new(
        http: reqwest::Client,
        settings: AuthSettings,
        service_urls: Arc<ServiceUrlAllowlist>,
    ) -> Self {
        let source = source::HttpKeySource::new(http, &settings.openid_metadata_url);
        Self::with_key_source(source, settings, service_urls)
    }

    /// [`TeamsAuthenticator::new`] with the keys from `source`.
    pub fn with_key_source(
        source: impl KeySource,
        settings: AuthSettings,
        service_urls: Arc<ServiceUrlAllowlist>,
    ) -> Self {
        let rules = RefreshRules {
            interval: settings.key_refresh_interval,
            unknown_kid_interval: settings.unknown_kid_refetch_interval,
            retry_min: settings.key_retry_min_delay,
            retry_max: settings.key_retry_max_delay,
            fetch_timeout: KEY_FETCH_TIMEOUT,
        };
        Self {
            settings,
            keys: Arc::new(KeySet::new(source, rules)),
            service_urls,
            verified: verified::VerifiedTokens::default(),
        }
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Starts fetching the signing keys in the background: at once, then
    /// daily. Until this is called every activity is refused; the task
    /// stops when the handle is dropped.
    pub fn start_key_refresh(&self) -> KeyRefresher {
        self.keys.start_refresh()
    }

    /// Step 1, headers only: the token and its signing key. Returns the
    /// `serviceurl` claim and the key's endorsements.
    pub async fn verify_token(&self, headers: &HeaderMap) -> Result<VerifiedToken, AuthError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or(AuthError::MissingToken)?
            .to_str()
            .map_err(|_| AuthError::WrongScheme)?;
        // botbuilder's JwtTokenExtractor: the scheme must be exactly `Bearer`.
        let token = value
            .strip_prefix("Bearer ")
            .ok_or(AuthError::WrongScheme)?
            .trim();
        let (alg, kid) = token_header(token)?;
        let key = self.keys.key(&kid).await?;
        if !key.endorsements.iter().any(|e| e == TEAMS_ENDORSEMENT) {
            return Err(AuthError::NotEndorsed(kid, TEAMS_ENDORSEMENT.into()));
        }
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(service_url) = self.verified.lookup(token, &key, now, CLOCK_SKEW_SECS) {
            return Ok(VerifiedToken {
                service_url,
                kid,
                endorsements: key.endorsements.clone(),
            });
        }
        let mut validation = Validation::new(alg);
        validation.algorithms = ALLOWED_ALGORITHMS.to_vec();
        validation.leeway = CLOCK_SKEW_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[CHANNEL_ISSUER]);
        validation.set_audience(&[self.settings.app_id.as_str()]);
        // Without these, jsonwebtoken skips aud/iss checks on tokens that
        // simply omit the claims.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                let reason = match e.kind() {
                    K::ExpiredSignature => "expired".to_owned(),
                    K::ImmatureSignature => "not yet valid".to_owned(),
                    K::InvalidIssuer => "wrong issuer".to_owned(),
                    K::InvalidAudience => "wrong audience".to_owned(),
                    K::InvalidSignature => "bad signature".to_owned(),
                    K::InvalidAlgorithm => "algorithm does not match the key".to_owned(),
                    K::MissingRequiredClaim(c) => format!("missing claim {c}"),
                    other => format!("{other:?}"),
                };
                AuthError::InvalidToken(reason)
            })?
            .claims;
        let service_url = claims
            .get("serviceurl")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::InvalidToken("missing claim serviceurl".into()))?
            .to_owned();
        if let Some(expires) = claims.get("exp").and_then(Value::as_u64) {
            let not_before = claims.get("nbf").and_then(Value::as_u64);
            self.verified.insert(
                token,
                key.clone(),
                service_url.clone(),
                not_before,
                expires,
                now,
            );
        }
        Ok(VerifiedToken {
            service_url,
            kid,
            endorsements: key.endorsements.clone(),
        })
    }

    /// Step 2, after the token: binds the body to it.
    pub fn verify_activity(
        &self,
        token: &VerifiedToken,
        body: &[u8],
    ) -> Result<AuthenticatedActivity, AuthError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| AuthError::BadActivity(e.to_string()))?;
        if !value.get("type").is_some_and(Value::is_string) {
            return Err(AuthError::BadActivity("an activity needs a type".into()));
        }
        // Plain string equality, as botbuilder does; a channel MUST send a
        // serviceUrl (A2300), so a missing one cannot match either.
        if value.get("serviceUrl").and_then(Value::as_str) != Some(token.service_url.as_str()) {
            return Err(AuthError::ServiceUrlMismatch);
        }
        let activity: Activity =
            serde_json::from_value(value).map_err(|e| AuthError::BadActivity(e.to_string()))?;
        if let Some(channel) = activity.channel_id.as_deref().filter(|c| !c.is_empty())
            && !token.endorsements.iter().any(|e| e == channel)
        {
            return Err(AuthError::NotEndorsed(
                token.kid.clone(),
                channel.to_owned(),
            ));
        }
        let tenant = activity.tenant_id();
        if tenant != Some(self.settings.tenant_id.as_str()) {
            return Err(AuthError::WrongTenant(tenant.map(str::to_owned)));
        }
        let service_url = self
            .service_urls
            .learn(&token.service_url)
            .map_err(|_| AuthError::ServiceUrlMismatch)?;
        Ok(AuthenticatedActivity {
            activity,
            service_url,
        })
    }

    /// Both steps on a whole request (the body is read only after the token
    /// has been verified, and never beyond `max_body_bytes`).
    pub async fn authenticate(&self, request: Request) -> Result<AuthenticatedActivity, AuthError> {
        let (parts, body) = request.into_parts();
        let token = self.verify_token(&parts.headers).await?;
        let bytes = read_body(body, self.settings.max_body_bytes).await?;
        self.verify_activity(&token, &bytes)
    }
}

/// The body within `limit`: a declared length over it is refused before a
/// byte is read, and the server's body deadline gives 408.
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, AuthError> {
    use axum::body::HttpBody;
    if body.size_hint().lower() > limit as u64 {
        return Err(AuthError::TooLarge);
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if crate::http::limits::is_body_deadline(&e) {
            AuthError::BodyTimedOut
        } else {
            AuthError::TooLarge
        }
    })
}

/// A header value fit for a log line: attacker-chosen, so bounded and
/// stripped of control characters.
fn printable(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(80).collect()
}

/// A bearer token's header: an allowed algorithm and a printable `kid`.
/// `alg: none` and unknown algorithms fail to parse.
pub fn token_header(token: &str) -> Result<(jsonwebtoken::Algorithm, String), AuthError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(AuthError::DisallowedAlgorithm(format!("{:?}", header.alg)));
    }
    let kid = header
        .kid
        .ok_or_else(|| AuthError::Malformed("no kid in the header".into()))?;
    Ok((header.alg, printable(&kid)))
}

/// The claims of a verified token that the body is checked against.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub service_url: String,
    pub kid: String,
    pub endorsements: Vec<String>,
}

/// Extractor: an activity that passed [`TeamsAuthenticator`]. Put it last
/// in a handler's arguments (it consumes the body).
#[derive(Debug, Clone)]
pub struct TeamsActivity(pub AuthenticatedActivity);

/// The refusal: 401 (or 400/413 for bad bodies), no body, one log line.
#[derive(Debug)]
pub struct Refused(pub AuthError);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        // Within the Teams refusal budget: a flood of bad tokens writes a
        // few lines a minute and a count, not a line each.
        if crate::http::refusals::admit(crate::http::refusals::Source::Teams) {
            tracing::warn!(reason = %self.0, "refused a Teams activity");
        }
        self.0.status().into_response()
    }
}

impl<S> FromRequest<S> for TeamsActivity
where
    S: Send + Sync,
    Arc<TeamsAuthenticator>: FromRef<S>,
{
    type Rejection = Refused;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let authenticator = Arc::<TeamsAuthenticator>::from_ref(state);
        authenticator
            .authenticate(request)
            .await
            .map(TeamsActivity)
            .map_err(Refused)
    }
}
