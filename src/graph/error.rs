//! What can go wrong talking to Microsoft Graph, typed so callers can act:
//! wait (throttled), step up (claims challenge), show Graph's message to the
//! person (invalid request), or reconcile (conflict: decided elsewhere).

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde::Deserialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    #[error("Microsoft Graph is throttling requests (retry after {retry_after:?})")]
    Throttled { retry_after: Option<Duration> },
    #[error("Microsoft Graph is unavailable ({status}): {message}")]
    Unavailable {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("not found: {message}")]
    NotFound { code: String, message: String },
    #[error("not allowed: {message}")]
    Forbidden { code: String, message: String },
    #[error("conflict: {message}")]
    Conflict { code: String, message: String },
    /// The token lacks a claim the resource demands (MFA, an authentication
    /// context); `claims` is the JSON claims request to send to authorize.
    #[error("additional authentication is required")]
    ClaimsChallenge { claims: String },
    #[error("token refused: {message}")]
    Unauthorized { code: String, message: String },
    #[error("{message}")]
    InvalidRequest { code: String, message: String },
    #[error("could not reach Microsoft Graph: {0}")]
    Transport(String),
    #[error("unexpected answer from Microsoft Graph: {0}")]
    Decode(String),
    #[error("cannot obtain a token from Microsoft Entra: {0}")]
    Token(String),
}

impl From<crate::token::TokenError> for GraphError {
    fn from(e: crate::token::TokenError) -> Self {
        Self::Token(e.0)
    }
}

impl GraphError {
    /// Worth retrying after a wait: throttling, 503/504, timeouts, resets.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Throttled { .. } | Self::Transport(_) => true,
            Self::Unavailable { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after } | Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Builds the error from a non-success response, consuming its body.
    pub async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let challenge = header(reqwest::header::WWW_AUTHENTICATE);
        let body = response.text().await.unwrap_or_default();
        Self::from_parts(
            status.as_u16(),
            retry_after.as_deref(),
            challenge.as_deref(),
            &body,
        )
    }

    /// Builds the error from a status, the `Retry-After` and
    /// `WWW-Authenticate` headers and the body: shared by direct calls and
    /// `$batch` sub-responses, so both are typed alike.
    pub fn from_parts(
        status: u16,
        retry_after: Option<&str>,
        www_authenticate: Option<&str>,
        body: &str,
    ) -> Self {
        let retry_after = retry_after.and_then(crate::retry::parse_retry_after);
        let challenge = www_authenticate.and_then(claims_from_www_authenticate);
        let parsed: Option<ErrorBody> = serde_json::from_str(body).ok();
        let (code, message) = parsed
            .map(|b| (b.error.code, b.error.message))
            .unwrap_or_else(|| (status.to_string(), truncate(body)));
        if let Some(claims) = challenge.or_else(|| claims_from_body(body)) {
            return Self::ClaimsChallenge { claims };
        }
        match StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY) {
            StatusCode::TOO_MANY_REQUESTS => Self::Throttled { retry_after },
            StatusCode::NOT_FOUND => Self::NotFound { code, message },
            StatusCode::FORBIDDEN => Self::Forbidden { code, message },
            StatusCode::CONFLICT => Self::Conflict { code, message },
            StatusCode::UNAUTHORIZED => Self::Unauthorized { code, message },
            s if s.is_server_error() => Self::Unavailable {
                status: s.as_u16(),
                message,
                retry_after,
            },
            _ => Self::InvalidRequest { code, message },
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// `WWW-Authenticate: Bearer …, error="insufficient_claims", claims="<base64>"`.
fn claims_from_www_authenticate(header: &str) -> Option<String> {
    if !header.contains("insufficient_claims") {
        return None;
    }
    let start = header.find("claims=\"")? + "claims=\"".len();
    let end = start + header[start..].find('"')?;
    decode_claims(&header[start..end])
}

/// Some services carry the challenge in the body instead of the header.
fn claims_from_body(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let claims = value
        .pointer("/error/claims")
        .or_else(|| value.pointer("/error/innerError/claims"))
        .or_else(|| value.get("claims"))?
        .as_str()?;
    decode_claims(claims)
}

fn decode_claims(raw: &str) -> Option<String> {
    if raw.trim_start().starts_with('{') {
        return Some(raw.to_owned());
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ];
    engines
        .iter()
        .find_map(|e| {
            e.decode(raw.trim_end_matches('='))
                .ok()
                .or_else(|| e.decode(raw).ok())
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|s| s.trim_start().starts_with('{'))
}

fn truncate(body: &str) -> String {
    body.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_challenge_from_header() {
        let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
        let header = format!(r#"Bearer realm="", error="insufficient_claims", claims="{encoded}""#);
        assert_eq!(
            claims_from_www_authenticate(&header).as_deref(),
            Some(claims)
        );
        assert_eq!(claims_from_www_authenticate("Bearer realm=\"\""), None);
    }
}
