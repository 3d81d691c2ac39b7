//! The faults' HTTP side: the layer that applies rules to the emulated
//! Graph (and its `$batch` sub-requests), and `/sim/faults` to manage them.

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::RuleSpec;
use crate::SimState;
use crate::graph::error::GraphError;

/// The fault layer of the emulated Graph: sits inside Graph's envelope
/// middleware so injected errors carry Graph's shape and request ids, and
/// applies to `$batch` sub-requests too (Graph throttles them one by one).
pub async fn graph_layer(State(state): State<SimState>, request: Request, next: Next) -> Response {
    let fault = state
        .faults
        .check("graph", request.method().as_str(), request.uri().path());
    let Some(fault) = fault else {
        return next.run(request).await;
    };
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    if fault.reset {
        return connection_reset();
    }
    match fault.status {
        Some(status) => graph_fault(status, fault.retry_after).into_response(),
        None => next.run(request).await,
    }
}

/// A response whose body fails at once: the server aborts the connection
/// without a complete answer, which the client sees as a reset.
fn connection_reset() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    });
    Response::new(axum::body::Body::from_stream(failing))
}

fn graph_fault(status: StatusCode, retry_after: Option<u64>) -> GraphError {
    let error = match status {
        StatusCode::TOO_MANY_REQUESTS => {
            GraphError::new(status, "TooManyRequests", "Please retry again later.")
        }
        StatusCode::SERVICE_UNAVAILABLE => GraphError::new(
            status,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ),
        _ => GraphError::new(
            status,
            "GatewayTimeout",
            "The gateway did not receive a timely response from the upstream service.",
        ),
    };
    match retry_after {
        Some(secs) => error.with_header("Retry-After", secs.to_string()),
        None => error,
    }
}

/// `/sim/faults`: add, list and clear rules.
pub fn router() -> Router<SimState> {
    Router::new().route("/faults", get(list).post(add).delete(clear))
}

/// Anyone on loopback: the rules and their hit counts.
async fn list(State(state): State<SimState>) -> Json<Value> {
    Json(json!({ "value": state.faults.rules() }))
}

/// Anyone on loopback: adds a rule.
async fn add(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let spec: RuleSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("invalid rule: {e}") })),
            )
                .into_response();
        }
    };
    match state.faults.add(spec) {
        Ok(rule) => (StatusCode::CREATED, Json(rule)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearQuery {
    seed: Option<u64>,
}

/// Anyone on loopback: removes every rule; `?seed=N` re-seeds the RNGs.
async fn clear(State(state): State<SimState>, Query(query): Query<ClearQuery>) -> StatusCode {
    match query.seed {
        Some(seed) => state.faults.clear_with_seed(seed),
        None => state.faults.clear(),
    }
    StatusCode::NO_CONTENT
}
