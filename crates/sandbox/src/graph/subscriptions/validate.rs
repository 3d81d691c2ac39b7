//! What a subscription's endpoints must satisfy: where they may point, and
//! the validation handshake Graph runs before it creates (or re-points) a
//! subscription.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};

use crate::SimState;
use crate::graph::error::{GraphError, GraphResult};

/// Longest lifetime of a subscription to a directory resource (user, group):
/// "41,760 minutes (under 29 days)" (docs/architecture.md, "Graph change
/// notifications").
pub const MAX_LIFETIME_MINUTES: i64 = 41_760;
/// `clientState` maximum length. subscription.md says 128 and
/// changeNotification.md 255 (docs/architecture.md, "Graph change
/// notifications"); the sandbox enforces the stricter one so a client that
/// passes here passes on Graph.
pub const CLIENT_STATE_MAX: usize = 128;

fn validation_error(message: &str) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
}

pub fn invalid_request(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "InvalidRequest", message)
}

/// Graph requires HTTPS endpoints. The sandbox only ever calls loopback, so it
/// accepts `http://` and `https://` on `127.0.0.1`, `localhost` or `[::1]`
/// and refuses everything else.
pub fn endpoint_url(name: &str, raw: &str) -> GraphResult<url::Url> {
    let url = url::Url::parse(raw)
        .map_err(|_| invalid_request(format!("{name} '{raw}' is not an absolute URL.")))?;
    let loopback = matches!(
        url.host_str(),
        Some("127.0.0.1") | Some("localhost") | Some("[::1]")
    );
    match url.scheme() {
        "https" | "http" if loopback => Ok(url),
        "https" => Err(invalid_request(format!(
            "{name} must point at loopback (127.0.0.1 or localhost) in the sandbox."
        ))),
        _ => Err(invalid_request(format!(
            "{name} must be an HTTPS URL (the sandbox also accepts http://127.0.0.1 and http://localhost)."
        ))),
    }
}

/// Parses `expirationDateTime` and checks it against the emulated now.
pub fn expiration(raw: &str, now: DateTime<Utc>) -> GraphResult<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| {
            invalid_request(format!(
                "Invalid expirationDateTime '{raw}': expected an ISO 8601 date and time such as 2026-01-01T00:00:00Z."
            ))
        })?
        .with_timezone(&Utc);
    if at <= now {
        return Err(invalid_request(
            "Subscription expiration date time must be in the future.",
        ));
    }
    if at > now + Duration::minutes(MAX_LIFETIME_MINUTES) {
        return Err(invalid_request(format!(
            "Subscription expiration can only be {MAX_LIFETIME_MINUTES} minutes in the future."
        )));
    }
    Ok(at)
}

/// The validation handshake: POST `url?validationToken=…` with a text/plain
/// body type; the endpoint must answer 200, `text/plain`, with the decoded
/// token within the validation timeout (10 s on Graph). Error codes and
/// messages are the ones Graph returns, as reported in its SDKs' issues.
pub async fn handshake(state: &SimState, url: &url::Url) -> GraphResult<()> {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        uuid::Uuid::new_v4()
    );
    let mut target = url.clone();
    let query = match url.query() {
        Some(q) if !q.is_empty() => format!("{q}&validationToken={}", encode(&token)),
        _ => format!("validationToken={}", encode(&token)),
    };
    target.set_query(Some(&query));
    let timeout = state.notify.timeouts().validation;
    let refused = || {
        validation_error(
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
        )
    };
    let result = state
        .notify
        .http
        .post(target)
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .timeout(timeout)
        .send()
        .await;
    let response = match result {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return Err(invalid_request(
                "Subscription validation request timed out.",
            ));
        }
        Err(_) => return Err(refused()),
    };
    if response.status() != reqwest::StatusCode::OK {
        return Err(refused());
    }
    let plain = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/plain"));
    let body = match response.text().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => {
            return Err(invalid_request(
                "Subscription validation request timed out.",
            ));
        }
        Err(_) => return Err(refused()),
    };
    if body != token {
        return Err(validation_error(
            "Subscription validation request failed. Response must exactly match validationToken query parameter.",
        ));
    }
    if !plain {
        return Err(validation_error(
            "Subscription validation request failed. Response must have Content-Type text/plain.",
        ));
    }
    Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so the
/// token's spaces arrive as `%20` (not `+`) and any URL decoder restores it.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints() {
        assert!(endpoint_url("notificationUrl", "http://127.0.0.1:8080/n").is_ok());
        assert!(endpoint_url("notificationUrl", "https://localhost/n").is_ok());
        assert!(endpoint_url("notificationUrl", "http://example.com/n").is_err());
        assert!(endpoint_url("notificationUrl", "https://example.com/n").is_err());
        assert!(endpoint_url("notificationUrl", "not a url").is_err());
    }

    #[test]
    fn expiration_limits() {
        let now = Utc::now();
        let ok = (now + Duration::minutes(MAX_LIFETIME_MINUTES - 1)).to_rfc3339();
        let far = (now + Duration::minutes(MAX_LIFETIME_MINUTES + 1)).to_rfc3339();
        assert!(expiration(&ok, now).is_ok());
        assert!(expiration(&far, now).is_err());
        assert!(expiration(&(now - Duration::minutes(1)).to_rfc3339(), now).is_err());
        assert!(expiration("2016-03-20T11:00:00.0000000Z", now).is_err());
        assert!(expiration("tomorrow", now).is_err());
    }

    #[test]
    fn encodes_spaces_as_percent_20() {
        assert_eq!(encode("a b:c"), "a%20b%3Ac");
    }
}
