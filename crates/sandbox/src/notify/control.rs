//! Sandbox control for outbound webhooks (`/sim/…`, sandbox only):
//!
//! - `GET /sim/notifications[?subscriptionId=…]` — every change and lifecycle
//!   notification with its attempts (status, error, elapsed ms, emulated time)
//!   and `nextAttemptAt`, so a test can watch the redelivery schedule.
//! - `POST /sim/notifications/settings` `{"validationTimeoutMs", "notificationTimeoutMs",
//!   "calloutTimeoutMs"}` — shortens the handshake / delivery time limits.
//! - `GET /sim/callouts` — the relay configuration (never the secret), every
//!   callout delivery and the `resume` callbacks received; `POST /sim/callouts {"url", "secret"}` points the
//!   relay at stagegate (`{"url": null}` turns callouts off).

use std::time::Duration as StdDuration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use super::delivery::DeliveryKind;
use crate::SimState;

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/notifications", get(list_notifications))
        .route("/notifications/settings", post(settings))
        .route("/callouts", get(list_callouts).post(configure_callouts))
}

fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "error": detail.into() }))).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotificationFilter {
    subscription_id: Option<String>,
}

/// Anyone on loopback: change and lifecycle notification deliveries.
async fn list_notifications(
    State(state): State<SimState>,
    Query(filter): Query<NotificationFilter>,
) -> Json<Value> {
    let n = state.notify.lock();
    let value: Vec<Value> = n
        .deliveries
        .iter()
        .filter(|d| match &d.kind {
            DeliveryKind::ChangeNotification { subscription_ids } => filter
                .subscription_id
                .as_ref()
                .is_none_or(|id| subscription_ids.contains(id)),
            DeliveryKind::Lifecycle {
                subscription_id, ..
            } => filter
                .subscription_id
                .as_ref()
                .is_none_or(|id| id == subscription_id),
            DeliveryKind::Callout { .. } => false,
        })
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .collect();
    Json(json!({ "value": value }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    validation_timeout_ms: Option<u64>,
    notification_timeout_ms: Option<u64>,
    callout_timeout_ms: Option<u64>,
}

/// Anyone on loopback: changes the sandbox's webhook time limits.
async fn settings(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let settings: Settings = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid settings: {e}")),
    };
    let mut timeouts = state.notify.timeouts();
    let ms = StdDuration::from_millis;
    if let Some(v) = settings.validation_timeout_ms {
        timeouts.validation = ms(v);
    }
    if let Some(v) = settings.notification_timeout_ms {
        timeouts.notification = ms(v);
    }
    if let Some(v) = settings.callout_timeout_ms {
        timeouts.callout = ms(v);
    }
    state.notify.set_timeouts(timeouts);
    Json(json!({
        "validationTimeoutMs": timeouts.validation.as_millis() as u64,
        "notificationTimeoutMs": timeouts.notification.as_millis() as u64,
        "calloutTimeoutMs": timeouts.callout.as_millis() as u64,
    }))
    .into_response()
}

/// Anyone on loopback: the relay configuration and callout deliveries.
async fn list_callouts(State(state): State<SimState>) -> Json<Value> {
    let n = state.notify.lock();
    let deliveries: Vec<Value> = n
        .deliveries
        .iter()
        .filter(|d| matches!(d.kind, DeliveryKind::Callout { .. }))
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .collect();
    Json(json!({
        "url": n.relay.url,
        "secretConfigured": n.relay.secret.is_some(),
        "value": deliveries,
        "callbacks": n.callbacks,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelayBody {
    url: Option<String>,
    #[serde(default)]
    secret: Option<SecretString>,
}

/// Anyone on loopback: where the Logic App relay delivers callouts, and the
/// shared secret it sends in `X-Stagegate-Relay-Secret`.
async fn configure_callouts(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let relay: RelayBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        // serde's message can quote the input, which may hold the secret.
        Err(_) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "expected {\"url\": \"http://127.0.0.1:3978/…\", \"secret\": \"…\"}",
            );
        }
    };
    if let Some(url) = &relay.url {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "url must be an absolute http(s) URL",
                );
            }
        }
        if relay.secret.is_none() {
            return problem(
                StatusCode::BAD_REQUEST,
                "secret is required: stagegate authenticates the relay with it",
            );
        }
    }
    let configured = relay.url.clone();
    state.notify.set_relay(relay.url, relay.secret);
    Json(json!({ "url": configured, "secretConfigured": configured.is_some() })).into_response()
}
