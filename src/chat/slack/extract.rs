//! The [`SlackRequest`] extractor: nothing unauthenticated may hold
//! resources, so the signature headers (presence, one value each, format,
//! timestamp window) are checked before a byte of body is read, a declared
//! `Content-Length` over the endpoint's limit is refused at once, and only
//! then is the body buffered (within the limit and the server's body
//! deadline) and its MAC checked (`super::verify`).

use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::verify::{SlackVerifier, VerifiedRequest, VerifyError};
use crate::http::limits::is_body_deadline;
use crate::http::refusals::{self, Source};

/// Slash commands: a dozen short form fields (docs/architecture.md, "Slack
/// payloads"; the fixtures are 300–360 bytes) plus what the person typed.
/// Our longest valid command (`/request`, a ticket, a 500-character
/// justification) is under 7.5 KB even if every character takes 4 UTF-8
/// bytes, each percent-encoded; this leaves twice that.
pub const COMMAND_BODY_LIMIT: usize = 16 * 1024;
/// Interactions: a click carries the message it was on (one of our cards)
/// and a `view_submission` the whole modal and its state (ours: one
/// section and one 500-character input), JSON percent-encoded in a form
/// field. The fixtures are 0.9–1.5 KB as JSON; ours stay around 10 KB at
/// worst. Slack lets views reach 250 kB, but only views we build come
/// back here, so this keeps a sixfold margin without accepting that.
pub const INTERACTION_BODY_LIMIT: usize = 64 * 1024;
/// Slack's unsigned `ssl_check` is `ssl_check=1&token=…`; an unsigned form
/// body is read this far to recognise it, and no further.
pub const SSL_CHECK_BODY_LIMIT: usize = 1024;

/// A verified Slack request as an axum extractor, its body at most
/// `LIMIT` bytes (and at most the verifier's limit). The state must provide
/// an `Arc<SlackVerifier>` (via `FromRef`).
///
/// Refusals short-circuit the handler: an empty 401 for a bad or missing
/// signature (as bolt-js answers), 413 for an oversized body, 408 for a body
/// that missed the server's deadline, and an empty 200 for `ssl_check=1`.
#[derive(Debug, Clone)]
pub struct SlackRequest<const LIMIT: usize = INTERACTION_BODY_LIMIT>(pub VerifiedRequest);

/// What the extractor answers instead of running the handler.
#[derive(Debug)]
pub enum SlackRejection {
    SslCheck,
    Refused(VerifyError),
}

impl IntoResponse for SlackRejection {
    fn into_response(self) -> Response {
        match self {
            Self::SslCheck => StatusCode::OK,
            Self::Refused(VerifyError::BodyTooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Refused(VerifyError::BodyTimedOut) => StatusCode::REQUEST_TIMEOUT,
            Self::Refused(_) => StatusCode::UNAUTHORIZED,
        }
        .into_response()
    }
}

impl<S, const LIMIT: usize> FromRequest<S> for SlackRequest<LIMIT>
where
    S: Send + Sync,
    Arc<SlackVerifier>: FromRef<S>,
{
    type Rejection = SlackRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = Arc::<SlackVerifier>::from_ref(state);
        let (parts, body) = request.into_parts();
        let signed = match verifier.check_headers(&parts.headers) {
            Ok(signed) => signed,
            Err(reason) => return Err(unsigned(&parts.headers, body, reason).await),
        };
        let limit = LIMIT.min(verifier.body_limit());
        let bytes = read_limited(body, limit).await.map_err(refused)?;
        if is_ssl_check(&parts.headers, &bytes) {
            return Err(SlackRejection::SslCheck);
        }
        verifier
            .verify_body(signed, bytes)
            .map(SlackRequest)
            .map_err(refused)
    }
}

/// A request whose signature headers failed: refused without reading its
/// body, unless it is a small form body, which may be Slack's unsigned
/// `ssl_check` (bolt-js and bolt-python answer it before verifying too).
async fn unsigned(headers: &HeaderMap, body: Body, reason: VerifyError) -> SlackRejection {
    if is_form(headers)
        && let Ok(bytes) = read_limited(body, SSL_CHECK_BODY_LIMIT).await
        && is_ssl_check(headers, &bytes)
    {
        return SlackRejection::SslCheck;
    }
    refused(reason)
}

/// The refusal, logged within the Slack refusal budget: a flood of
/// unsigned requests writes a few lines a minute and a count, not a line
/// each. The reason never contains the signature; the header itself is
/// redacted by the common layers.
fn refused(reason: VerifyError) -> SlackRejection {
    if refusals::admit(Source::Slack) {
        tracing::warn!(%reason, "refused a Slack request");
    }
    SlackRejection::Refused(reason)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

/// Slack's certificate check: a form body with `ssl_check=1`, sent unsigned
/// to slash command URLs. Like bolt-js we answer it with an empty 200 and
/// process nothing else in that body, so smuggling `ssl_check=1` next to a
/// real payload skips verification but also skips the payload.
pub fn is_ssl_check(headers: &HeaderMap, body: &[u8]) -> bool {
    is_form(headers) && url::form_urlencoded::parse(body).any(|(k, v)| k == "ssl_check" && v == "1")
}

/// Buffers the body, refusing at once a declared length over `limit` (no
/// byte is read) and giving up as soon as what arrives exceeds it.
pub async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, VerifyError> {
    // hyper's body reports a declared `Content-Length` as its exact size.
    if body.size_hint().lower() > limit as u64 {
        return Err(VerifyError::BodyTooLarge { limit });
    }
    let mut buffer = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Ok(Bytes::from(buffer)),
            Some(Err(e)) if is_body_deadline(&e) => return Err(VerifyError::BodyTimedOut),
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
