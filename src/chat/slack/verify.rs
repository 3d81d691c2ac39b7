//! Verifying that a request really comes from Slack, before anything in it is
//! parsed (docs/architecture.md, "Slack request signing").
//!
//! Slack signs every request it sends: `X-Slack-Signature: v0=<hex>` where
//! `<hex>` is HMAC-SHA256, keyed with the app's signing secret, over
//! `v0:{X-Slack-Request-Timestamp}:{raw body bytes}`. We accept a request when
//! the timestamp is within ±300 s of now (the symmetric check of python-slack-sdk
//! and slack-morphism: exactly 300 s still passes, 301 s does not; bolt-js lets
//! future timestamps through, we do not) and the MAC matches, compared in
//! constant time by `hmac`'s `verify_slice`.
//!
//! Use it as the [`SlackRequest`] extractor (`super::extract`: it checks the
//! headers before reading a byte of body, buffers the body up to the
//! endpoint's limit, answers `ssl_check=1` itself and refuses anything
//! unsigned with an empty 401), or call [`SlackVerifier::verify`] on
//! `(HeaderMap, Bytes)`; [`SlackVerifier::check_headers`] and
//! [`SlackVerifier::verify_body`] are its two halves.
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

use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub(crate) const SIGNATURE_HEADER: &str = "x-slack-signature";
pub(crate) const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// How far the request timestamp may be from now, either way.
pub(crate) const MAX_SKEW_SECONDS: i64 = 300;
/// The largest body [`SlackVerifier::verify`] accepts: the interactions
/// endpoint's limit, the larger of the two (`super::extract` sizes them).
pub(crate) const DEFAULT_BODY_LIMIT: usize = super::extract::INTERACTION_BODY_LIMIT;

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
    #[error("the body did not arrive in time")]
    BodyTimedOut,
}

/// A request's signature headers, checked (presence, one value each,
/// format, timestamp window) before its body is read; the MAC itself needs
/// the body ([`SlackVerifier::verify_body`]).
#[derive(Clone, Copy)]
pub struct SignedHeaders<'h> {
    /// The header's text exactly as sent: the basestring uses it, not the
    /// number (leading zeros would otherwise be lost).
    timestamp_text: &'h str,
    timestamp: i64,
    claimed: [u8; 32],
}

impl std::fmt::Debug for SignedHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
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
        let signed = self.check_headers_at(now, headers)?;
        self.verify_body(signed, body)
    }

    /// Checks the signature headers against the system clock.
    pub fn check_headers<'h>(
        &self,
        headers: &'h HeaderMap,
    ) -> Result<SignedHeaders<'h>, VerifyError> {
        self.check_headers_at(chrono::Utc::now().timestamp(), headers)
    }

    /// Checks that both headers are there once, well formed, and that the
    /// timestamp is within the window of `now`: everything but the MAC.
    pub fn check_headers_at<'h>(
        &self,
        now: i64,
        headers: &'h HeaderMap,
    ) -> Result<SignedHeaders<'h>, VerifyError> {
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
        Ok(SignedHeaders {
            timestamp_text,
            timestamp,
            claimed,
        })
    }

    /// Checks the MAC of `body` against headers [`Self::check_headers`]
    /// accepted.
    pub fn verify_body(
        &self,
        signed: SignedHeaders<'_>,
        body: Bytes,
    ) -> Result<VerifiedRequest, VerifyError> {
        if body.len() > self.body_limit {
            return Err(VerifyError::BodyTooLarge {
                limit: self.body_limit,
            });
        }
        let mut mac = self.mac();
        mac.update(b"v0:");
        mac.update(signed.timestamp_text.as_bytes());
        mac.update(b":");
        mac.update(&body);
        mac.verify_slice(&signed.claimed)
            .map_err(|_| VerifyError::SignatureMismatch)?;
        Ok(VerifiedRequest {
            timestamp: signed.timestamp,
            body,
            mac: signed.claimed,
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
