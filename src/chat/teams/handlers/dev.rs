//! `teams.dev_no_auth`: activities without Bot Framework authentication,
//! for the Microsoft 365 Agents Playground on the developer's machine.
//!
//! Nothing vouches for such a body, so it may not steer the bot: its reply
//! (sent with the bot's connector token) goes only to the configured
//! `teams.service_url`, never to a serviceUrl learned from the body. Only
//! `Content-Type: application/json` is read: a web page can POST
//! `text/plain` or a form to loopback without a CORS preflight, but not
//! JSON. And the Host must be loopback, so a page that rebinds its own DNS
//! name to 127.0.0.1 (and so needs no preflight) is refused too.

use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::TeamsBot;
use crate::chat::teams::activity::Activity;
use crate::chat::teams::auth::AuthenticatedActivity;
use crate::config::is_loopback_url;

/// Why an unauthenticated activity was refused; the answer says it too, as
/// the developer reading it runs the Playground.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum DevRefusal {
    #[error("teams.dev_no_auth: the Host is not a loopback address")]
    HostNotLoopback,
    #[error("teams.dev_no_auth: only Content-Type: application/json is accepted")]
    NotJson,
    #[error("teams.dev_no_auth: activity body too large")]
    TooLarge,
    #[error("teams.dev_no_auth: the body is not a valid activity: {0}")]
    BadActivity(String),
    #[error(
        "teams.dev_no_auth: the activity's serviceUrl is not teams.service_url; without \
         authentication the bot replies to the configured service URL only (set \
         teams.service_url to the Playground's --service-url)"
    )]
    ForeignServiceUrl,
}

impl DevRefusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::HostNotLoopback | Self::ForeignServiceUrl => StatusCode::FORBIDDEN,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadActivity(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for DevRefusal {
    fn into_response(self) -> Response {
        tracing::warn!(reason = %self, "refused an unauthenticated Teams activity");
        (self.status(), self.to_string()).into_response()
    }
}

/// The body as an activity, checked as far as an unauthenticated body can
/// be: headers first (nothing is read on a refusal), then its serviceUrl.
pub(super) async fn unauthenticated(
    bot: &TeamsBot,
    request: Request,
) -> Result<AuthenticatedActivity, DevRefusal> {
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    if !host.is_some_and(|h| is_loopback_url(&format!("http://{h}/"))) {
        return Err(DevRefusal::HostNotLoopback);
    }
    if !is_json(&parts.headers) {
        return Err(DevRefusal::NotJson);
    }
    let limit = bot.authenticator.settings().max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| DevRefusal::TooLarge)?;
    let activity: Activity =
        serde_json::from_slice(&bytes).map_err(|e| DevRefusal::BadActivity(e.to_string()))?;
    let raw = activity
        .service_url
        .as_deref()
        .ok_or_else(|| DevRefusal::BadActivity("no serviceUrl".into()))?;
    // Both normalised the same way (a trailing `/` or not is the same URL);
    // the configured one is always admitted, a foreign one never learned.
    let configured = bot
        .allowlist
        .admit(bot.port.default_service_url())
        .map_err(|_| DevRefusal::ForeignServiceUrl)?;
    let service_url = bot
        .allowlist
        .admit(raw)
        .ok()
        .filter(|claimed| *claimed == configured)
        .ok_or(DevRefusal::ForeignServiceUrl)?;
    Ok(AuthenticatedActivity {
        activity,
        service_url,
    })
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, value.parse().unwrap());
        headers
    }

    #[test]
    fn json_only() {
        assert!(is_json(&with_type("application/json")));
        assert!(is_json(&with_type("Application/JSON; charset=utf-8")));
        for refused in [
            "text/plain",
            "text/plain; application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
        ] {
            assert!(!is_json(&with_type(refused)), "{refused}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
