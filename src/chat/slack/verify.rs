//! Verifying that a request really comes from Slack, before anything in it is
//! parsed (facts/slack.md §1).
//!
//! Slack signs every request it sends: `X-Slack-Signature: v0=<hex>` where
//! `<hex>` is HMAC-SHA256, keyed with the app's signing secret, over
//! `v0:{X-Slack-Request-Timestamp}:{raw body bytes}`. We accept a request when
//! the timestamp is within ±300 s of now (the symmetric check of python-slack-sdk
//! and slack-morphism: exactly 300 s still passes, 301 s does not; bolt-js lets
//! future timestamps through, we do not) and the MAC matches, compared in
//! constant time by `hmac`'s `verify_slice`.
//!
//! Use it as the [`SlackRequest`] extractor (it buffers the body up to a limit,
//! answers `ssl_check=1` itself and refuses anything unsigned with an empty
//! 401), or call [`SlackVerifier::verify`] on `(HeaderMap, Bytes)`.
//!
//! # Replays
//! The timestamp window alone lets a captured request be replayed for up to
//! five minutes, and a replay is byte-identical, so it would act twice (a
//! second approval click, a second `/request`). [`super::ReplayGuard`]
//! records the MAC of every accepted request in the database until its
//! timestamp leaves the window; a handler asks it before acting and drops
//! repeats, across restarts and replicas. Slack itself never resends a
//! slash command or a click with the same timestamp, so a repeat is never
//! legitimate.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-slack-signature";
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far the request timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;
/// Slash command and interaction bodies are a few kB; Slack's largest (a
/// view_submission with a 100-block modal) stays well under this.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// Why a request was refused. The texts name the problem, never the
/// signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} appears more than once")]
    DuplicateHeader(&'static str),
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    #[error("X-Slack-Request-Timestamp is {skew} s away from now (more than 300 s)")]
    StaleTimestamp { skew: i64 },
    #[error("X-Slack-Signature is not of the form v0=<64 lowercase hex digits>")]
    BadSignatureFormat,
    #[error("X-Slack-Signature does not match the body")]
    SignatureMismatch,
    #[error("the body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the body could not be read")]
    BodyUnreadable,
}

/// A request whose signature checked out: its raw body and timestamp.
#[derive(Clone)]
pub struct VerifiedRequest {
    pub timestamp: i64,
    pub body: Bytes,
    /// The verified MAC, kept only to recognise replays.
    mac: [u8; 32],
}

impl VerifiedRequest {
    /// The MAC Slack sent, for the replay guard (never logged).
    pub(super) fn mac(&self) -> &[u8; 32] {
        &self.mac
    }
}

impl std::fmt::Debug for VerifiedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedRequest")
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Checks Slack's request signatures with the app's signing secret.
#[derive(Clone)]
pub struct SlackVerifier {
    secret: SecretString,
    body_limit: usize,
}

impl std::fmt::Debug for SlackVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackVerifier")
            .field("body_limit", &self.body_limit)
            .finish_non_exhaustive()
    }
}

impl SlackVerifier {
    #[must_use]
    pub fn new(signing_secret: SecretString) -> Self {
        Self {
            secret: signing_secret,
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    #[must_use]
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Verifies against the system clock.
    pub fn verify(&self, headers: &HeaderMap, body: Bytes) -> Result<VerifiedRequest, VerifyError> {
        self.verify_at(chrono::Utc::now().timestamp(), headers, body)
    }

    /// Verifies as if the time were `now` (Unix seconds).
    pub fn verify_at(
        &self,
        now: i64,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<VerifiedRequest, VerifyError> {
        if body.len() > self.body_limit {
            return Err(VerifyError::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        let timestamp_text = single_header(headers, TIMESTAMP_HEADER, "X-Slack-Request-Timestamp")?;
        let signature = single_header(headers, SIGNATURE_HEADER, "X-Slack-Signature")?;
        // Only ASCII digits: `i64::from_str` would also take "+123".
        if timestamp_text.is_empty()
            || timestamp_text.len() > 12
            || !timestamp_text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(VerifyError::BadTimestamp);
        }
        let timestamp: i64 = timestamp_text
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let skew = now - timestamp;
        if skew.abs() > MAX_SKEW_SECONDS {
            return Err(VerifyError::StaleTimestamp { skew });
        }
        let hex_mac = signature
            .strip_prefix("v0=")
            .ok_or(VerifyError::BadSignatureFormat)?;
        // Lowercase only, as Slack sends it: bolt and python compare the
        // strings as they are, so an uppercased signature fails there too.
        if hex_mac.len() != 64
            || !hex_mac
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(VerifyError::BadSignatureFormat);
        }
        let mut claimed = [0u8; 32];
        hex::decode_to_slice(hex_mac, &mut claimed).map_err(|_| VerifyError::BadSignatureFormat)?;
        let mut mac = self.mac();
        mac.update(b"v0:");
        mac.update(timestamp_text.as_bytes());
        mac.update(b":");
        mac.update(&body);
        mac.verify_slice(&claimed)
            .map_err(|_| VerifyError::SignatureMismatch)?;
        Ok(VerifiedRequest {
            timestamp,
            body,
            mac: claimed,
        })
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC accepts any key length")
    }
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
    display: &'static str,
) -> Result<&'h str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let value = values.next().ok_or(VerifyError::MissingHeader(display))?;
    if values.next().is_some() {
        return Err(VerifyError::DuplicateHeader(display));
    }
    value.to_str().map_err(|_| match name {
        TIMESTAMP_HEADER => VerifyError::BadTimestamp,
        _ => VerifyError::BadSignatureFormat,
    })
}

/// Slack's certificate check: a form body with `ssl_check=1`, sent unsigned
/// to slash command URLs. Like bolt-js we answer it with an empty 200 and
/// process nothing else in that body, so smuggling `ssl_check=1` next to a
/// real payload skips verification but also skips the payload.
pub fn is_ssl_check(headers: &HeaderMap, body: &[u8]) -> bool {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    form && url::form_urlencoded::parse(body).any(|(k, v)| k == "ssl_check" && v == "1")
}

/// A verified Slack request as an axum extractor. The state must provide an
/// `Arc<SlackVerifier>` (via `FromRef`).
///
/// Refusals short-circuit the handler: an empty 401 for a bad or missing
/// signature (as bolt-js answers), 413 for an oversized body, and an empty
/// 200 for `ssl_check=1`.
#[derive(Debug, Clone)]
pub struct SlackRequest(pub VerifiedRequest);

/// What the extractor answers instead of running the handler.
#[derive(Debug)]
pub enum SlackRejection {
    SslCheck,
    Refused(VerifyError),
}

impl IntoResponse for SlackRejection {
    fn into_response(self) -> Response {
        match self {
            Self::SslCheck => StatusCode::OK.into_response(),
            Self::Refused(VerifyError::BodyTooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE.into_response()
            }
            Self::Refused(_) => StatusCode::UNAUTHORIZED.into_response(),
        }
    }
}

impl<S> FromRequest<S> for SlackRequest
where
    S: Send + Sync,
    Arc<SlackVerifier>: FromRef<S>,
{
    type Rejection = SlackRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<SlackVerifier>::from_ref(state);
        let (parts, body) = request.into_parts();
        let limit = verifier.body_limit();
        let refused = |reason: VerifyError| {
            // The reason never contains the signature; the header itself is
            // redacted by the common layers.
            tracing::warn!(%reason, "refused a Slack request");
            SlackRejection::Refused(reason)
        };
        let bytes = read_limited(body, limit).await.map_err(refused)?;
        if is_ssl_check(&parts.headers, &bytes) {
            return Err(SlackRejection::SslCheck);
        }
        verifier
            .verify(&parts.headers, bytes)
            .map(SlackRequest)
            .map_err(refused)
    }
}

/// Buffers the body, giving up as soon as it exceeds `limit` bytes.
pub async fn read_limited(mut body: axum::body::Body, limit: usize) -> Result<Bytes, VerifyError> {
    use axum::body::HttpBody;
    let mut buffer = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(Bytes::from(buffer)),
            Some(Err(_)) => return Err(VerifyError::BodyUnreadable),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if buffer.len() + data.len() > limit {
                        return Err(VerifyError::BodyTooLarge { limit });
                    }
                    buffer.extend_from_slice(&data);
                }
            }
        }
    }
}
