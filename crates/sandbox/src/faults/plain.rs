//! Faults for GET endpoints with no error shape of their own: the OpenID
//! metadata and keys of Entra (service `login`) and the Bot Framework
//! (service `botframework`).

use axum::response::{IntoResponse, Json, Response};
use serde_json::json;

use crate::SimState;

/// For GET endpoints with no error shape of their own (the OpenID metadata
/// and keys of Entra and the Bot Framework): the answer of a matching
/// `service` rule after its delay, as a small JSON error; `None` lets the
/// request through (no rule, or a delay-only rule).
pub async fn plain_fault(state: &SimState, service: &str, path: &str) -> Option<Response> {
    let fault = state.faults.check(service, "GET", path)?;
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    let status = fault.status?;
    let reason = status.canonical_reason().unwrap_or("error");
    let mut response = (status, Json(json!({ "error": reason }))).into_response();
    if let Some(secs) = fault.retry_after {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    Some(response)
}
