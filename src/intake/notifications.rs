//! `POST /api/graph/notifications` and `POST /api/graph/lifecycle`: Microsoft
//! Graph's validation handshake, change notifications for the watched groups'
//! `/members`, and lifecycle notifications (docs/architecture.md, "Graph
//! change notifications").
//!
//! Authentication: Graph proves itself only by echoing the subscription's
//! `clientState`. Microsoft: "If there's a mismatch, don't consider the change
//! notification as valid. It's possible that the change notification hasn't
//! originated from Microsoft Graph and may have been sent by a rogue actor"
//! (change-notifications-delivery-webhooks.md). Every subscription of ours
//! carries the same secret, so a genuine POST has it on *every* notification;
//! one missing or wrong means the POST is not Graph's, and the whole body is
//! refused with 401 and nothing in it is processed (dropping only the bad
//! ones would let a forger mix its notifications with replayed good ones).
//! The body is read up to the `clientState`s only ([`Gate`]) before this
//! check; the notifications themselves are parsed after it.
//!
//! Graph wants a 2xx within 3 s: valid bodies are queued and answered
//! `202 Accepted`; processing happens after the answer. A full queue answers
//! 503 so Graph redelivers.

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::{Choice, ConstantTimeEq};

use super::worker::{LifecycleEvent, LifecycleNotice, Work};
use super::{Intake, busy, problem};
use crate::http::refusals::{self, Source};
use stagegate_domain::ids::ObjectId;

/// Graph's validation tokens are about 100 characters; anything much longer
/// is not Graph and is not echoed.
pub const VALIDATION_TOKEN_MAX: usize = 4096;

/// Microsoft Graph only (authenticated by `clientState`, see the module
/// docs); the validation handshake needs no authentication: it only echoes.
pub(super) async fn receive(
    State(intake): State<Intake>,
    RawQuery(query): RawQuery,
    request: Request,
) -> Response {
    if let Some(token) = validation_token(query.as_deref()) {
        return handshake(token);
    }
    let Some(secret) = intake.inner.config.client_state.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = match read_body(request, intake.inner.config.body_limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    match authenticate(&body, |candidate| secret.matches(candidate)) {
        Ok(()) => {}
        Err(Refusal::Malformed(detail)) => return problem(StatusCode::BAD_REQUEST, detail),
        Err(Refusal::Unauthenticated) => {
            if refusals::admit(Source::Intake) {
                tracing::warn!("change notification refused: clientState missing or wrong");
            }
            return problem(
                StatusCode::UNAUTHORIZED,
                "every notification must carry the subscription's clientState",
            );
        }
    }
    let collection = match parse_collection(&body) {
        Ok(c) => c,
        Err(detail) => return problem(StatusCode::BAD_REQUEST, detail),
    };
    let planned = match plan(&intake, &collection) {
        Ok(p) => p,
        Err(detail) => return problem(StatusCode::BAD_REQUEST, detail),
    };
    // One lock from the check to the record, so two deliveries of one
    // notification racing each other queue it once.
    let mut seen = intake.inner.seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut work: Vec<Work> = Vec::new();
    for (key, items) in planned {
        if let Some(key) = key
            && (seen.contains(&key) || !keys.insert(key))
        {
            continue;
        }
        work.extend(items);
    }
    if seen.room() < keys.len() {
        // Full of ids inside their window: forgetting one would queue a
        // redelivery twice, so Graph is asked to redeliver later instead.
        tracing::warn!(
            ids = keys.len(),
            "notification dedupe full; Graph will redeliver"
        );
        return busy();
    }
    let count = work.len();
    if intake.enqueue(work).is_err() {
        tracing::warn!(count, "intake queue full; Graph will redeliver");
        return busy();
    }
    for key in keys {
        // Cannot be full: room was checked under the same lock.
        let _ = seen.insert(key);
    }
    drop(seen);
    tracing::debug!(
        notifications = collection.value.len(),
        queued = count,
        "change notifications accepted"
    );
    StatusCode::ACCEPTED.into_response()
}

/// `validationToken` from the query string, URL-decoded.
fn validation_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "validationToken")
        .map(|(_, v)| v.into_owned())
}

/// 200, `text/plain`, the decoded token: what Graph requires within 10 s.
fn handshake(token: String) -> Response {
    if token.is_empty() || token.len() > VALIDATION_TOKEN_MAX {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("validationToken must be 1 to {VALIDATION_TOKEN_MAX} bytes"),
        );
    }
    let mut response = (StatusCode::OK, token).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // The echo is attacker-chosen text; never let a browser sniff it as HTML.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Reads the body within `limit`; 413 beyond it (the body limit layer turns
/// an oversized `Content-Length` into 413 before this runs; this catches
/// chunked bodies), 408 when it misses the server's body deadline.
pub(super) async fn read_body(request: Request, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| {
            if crate::http::limits::is_body_deadline(&e) {
                problem(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body did not arrive in time",
                )
            } else {
                problem(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body must be complete and at most {limit} bytes"),
                )
            }
        })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Malformed(String),
    Unauthenticated,
}

/// Just enough of a `changeNotificationCollection` to authenticate it.
#[derive(Deserialize)]
struct Gate<'a> {
    #[serde(borrow)]
    value: Vec<GateItem<'a>>,
}

#[derive(Deserialize)]
struct GateItem<'a> {
    #[serde(rename = "clientState", borrow, default)]
    client_state: Option<Cow<'a, str>>,
}

/// Whether every notification in `body` carries a `clientState` accepted by
/// `matches` (a constant-time comparison). Every item is checked, so the time
/// taken does not depend on which one failed.
pub fn authenticate(body: &[u8], matches: impl Fn(&[u8]) -> bool) -> Result<(), Refusal> {
    let gate: Gate = serde_json::from_slice(body).map_err(|_| {
        Refusal::Malformed(
            "expected a changeNotificationCollection: {\"value\": [changeNotification, …]}".into(),
        )
    })?;
    if gate.value.is_empty() {
        return Err(Refusal::Malformed(
            "the collection holds no notifications".into(),
        ));
    }
    let mut ok = Choice::from(1u8);
    for item in &gate.value {
        let this = match &item.client_state {
            Some(state) => Choice::from(u8::from(matches(state.as_bytes()))),
            None => Choice::from(0u8),
        };
        ok &= this;
    }
    if bool::from(ok.ct_eq(&Choice::from(1u8))) {
        Ok(())
    } else {
        Err(Refusal::Unauthenticated)
    }
}

fn parse_collection(body: &[u8]) -> Result<Collection, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a changeNotificationCollection: {e}"))
}

/// What the endpoint does with a body before any state is touched: the
/// `clientState` gate (here accepting any value) and the parse. For the
/// fuzzer.
pub fn check_body(body: &[u8]) -> Result<usize, String> {
    authenticate(body, |_| true).map_err(|e| format!("{e:?}"))?;
    parse_collection(body).map(|c| c.value.len())
}

/// `changeNotificationCollection` (CSDL names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Collection {
    value: Vec<ChangeNotification>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeNotification {
    #[serde(default)]
    id: Option<String>,
    subscription_id: String,
    #[serde(default)]
    change_type: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    resource_data: Option<ResourceData>,
    #[serde(default)]
    lifecycle_event: Option<String>,
    #[serde(default)]
    tenant_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResourceData {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "members@delta", default)]
    members_delta: Vec<MemberDelta>,
}

/// One entry of `members@delta`: `{"id"}` when added, with `"@removed"` when
/// removed (its value varies: `"deleted"` or `{"reason": …}`).
#[derive(Debug, Deserialize)]
struct MemberDelta {
    id: String,
    #[serde(rename = "@removed", default)]
    removed: Option<serde_json::Value>,
}

/// What each notification asks for, with its dedupe key (`None`: no id).
type Planned = Vec<(Option<String>, Vec<Work>)>;

/// Turns an authenticated collection into work; a malformed notification
/// makes the whole body a 400 (nothing queued).
fn plan(intake: &Intake, collection: &Collection) -> Result<Planned, String> {
    let config = &intake.inner.config;
    let mut out = Vec::new();
    for (i, n) in collection.value.iter().enumerate() {
        let key =
            n.id.as_ref()
                .map(|id| format!("{}/{id}", n.subscription_id));
        if let (Some(tenant), Some(ours)) = (&n.tenant_id, &config.tenant_id)
            && !tenant.eq_ignore_ascii_case(ours)
        {
            tracing::warn!(subscription = %n.subscription_id, "notification for another tenant ignored");
            continue;
        }
        if let Some(event) = &n.lifecycle_event {
            match LifecycleEvent::parse(event) {
                Some(event) => out.push((
                    key,
                    vec![Work::Lifecycle(LifecycleNotice {
                        subscription_id: n.subscription_id.clone(),
                        event,
                    })],
                )),
                None => tracing::info!(
                    subscription = %n.subscription_id,
                    event = %event,
                    "unknown lifecycle event ignored"
                ),
            }
            continue;
        }
        let Some(group) = group_of(n)
            .transpose()
            .map_err(|e| format!("value[{i}]: {e}"))?
        else {
            tracing::info!(subscription = %n.subscription_id, "notification without a group ignored");
            continue;
        };
        if !config.groups.contains(&group) {
            tracing::info!(%group, "notification for a group not watched ignored");
            continue;
        }
        if n.change_type.as_deref() == Some("deleted") {
            tracing::warn!(%group, "a watched privileged group was deleted");
            continue;
        }
        let Some(data) = &n.resource_data else {
            continue;
        };
        let mut work = Vec::new();
        for (j, delta) in data.members_delta.iter().enumerate() {
            let member: ObjectId = delta
                .id
                .parse()
                .map_err(|e| format!("value[{i}].resourceData.members@delta[{j}].id: {e}"))?;
            work.push(Work::Membership {
                group,
                member,
                added: delta.removed.is_none(),
                notification: key.clone(),
            });
        }
        out.push((key, work));
    }
    Ok(out)
}

/// The group a notification is about: `resourceData.id`, else the id in
/// `resource` (`Groups/{id}`, as Graph writes it).
fn group_of(n: &ChangeNotification) -> Option<Result<ObjectId, String>> {
    let raw = n
        .resource_data
        .as_ref()
        .and_then(|d| d.id.clone())
        .or_else(|| {
            let resource = n.resource.as_deref()?.trim_start_matches('/');
            let (kind, rest) = resource.split_once('/')?;
            kind.eq_ignore_ascii_case("groups")
                .then(|| rest.split('/').next().unwrap_or(rest).to_owned())
        })?;
    Some(raw.parse::<ObjectId>().map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_secret(c: &[u8]) -> bool {
        c == b"s3cret"
    }

    #[test]
    fn authenticates_only_when_every_notification_carries_the_secret() {
        let ok = br#"{"value":[{"clientState":"s3cret"},{"clientState":"s3cret","x":1}]}"#;
        assert_eq!(authenticate(ok, is_secret), Ok(()));
        let mixed = br#"{"value":[{"clientState":"s3cret"},{"clientState":"nope"}]}"#;
        assert_eq!(
            authenticate(mixed, is_secret),
            Err(Refusal::Unauthenticated)
        );
        let missing = br#"{"value":[{"clientState":"s3cret"},{}]}"#;
        assert_eq!(
            authenticate(missing, is_secret),
            Err(Refusal::Unauthenticated)
        );
    }

    #[test]
    fn malformed_bodies_are_not_authentication_failures() {
        for body in [
            &b"not json"[..],
            b"{}",
            b"[]",
            br#"{"value":{}}"#,
            br#"{"value":[]}"#,
        ] {
            assert!(matches!(
                authenticate(body, is_secret),
                Err(Refusal::Malformed(_))
            ));
        }
    }

    #[test]
    fn reads_the_validation_token_url_decoded() {
        assert_eq!(
            validation_token(Some("validationToken=Validation%3A%20a%20b")).as_deref(),
            Some("Validation: a b")
        );
        assert_eq!(validation_token(Some("other=1")), None);
        assert_eq!(validation_token(None), None);
    }
}
