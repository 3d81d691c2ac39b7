//! Emulated Microsoft Graph v1.0 (`/graph/v1.0/…` on the sim port).
//!
//! Every route authenticates with the [`auth::Caller`] extractor and checks
//! its [`auth::Permission`] before touching the world. Errors leave in
//! Graph's envelope with `request-id` / `client-request-id` headers.

pub mod approvals;
pub mod auth;
pub mod batch;
pub mod custom_extensions;
pub mod directory;
pub mod em;
pub mod error;
pub mod lifecycle;
pub mod odata;
pub mod pim;
pub mod requests;
pub mod roles;
pub mod subscriptions;
pub mod teamwork;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::SimState;
use super::clock::graph_time;
use error::GraphError;

pub fn router(state: SimState) -> Router<SimState> {
    Router::new()
        .merge(directory::routes())
        .merge(em::routes())
        .merge(requests::routes())
        .merge(approvals::routes())
        .merge(pim::routes())
        .merge(roles::routes())
        .merge(subscriptions::routes())
        .merge(teamwork::routes())
        .merge(custom_extensions::routes())
        .merge(batch::routes())
        .fallback(unknown_segment)
        // Inside the envelope, so injected errors leave in Graph's shape.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::faults::graph_layer,
        ))
        .layer(middleware::from_fn_with_state(state, envelope))
}

/// Unknown paths: Graph authenticates first, then answers 400 naming the
/// segment it could not resolve.
async fn unknown_segment(_caller: auth::Caller, request: Request) -> GraphError {
    let segment = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next_back()
        .unwrap_or_default()
        .to_owned();
    GraphError::bad_request(format!("Resource not found for the segment '{segment}'."))
}

/// Adds Graph's correlation headers and renders [`GraphError`]s.
async fn envelope(
    axum::extract::State(state): axum::extract::State<SimState>,
    request: Request,
    next: Next,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = request
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<GraphError>() {
        let body = json!({
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "date": graph_time(state.clock.now()).replace(".000", ""),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        });
        let headers = std::mem::take(response.headers_mut());
        response = (error.status, axum::Json(body)).into_response();
        for (name, value) in headers.iter() {
            response.headers_mut().insert(name.clone(), value.clone());
        }
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&client_request_id) {
        response.headers_mut().insert("client-request-id", v);
    }
    response
}

/// A JSON body whose parse errors become Graph's 400s.
pub struct GraphJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<SimState> for GraphJson<T> {
    type Rejection = GraphError;

    async fn from_request(
        request: Request<Body>,
        state: &SimState,
    ) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| GraphError::bad_request("Unable to read the request body."))?;
        if bytes.is_empty() {
            return Err(GraphError::bad_request(
                "Empty Payload. JSON content expected.",
            ));
        }
        serde_json::from_slice(&bytes).map(GraphJson).map_err(|e| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Invalid request body: {e}"),
            )
        })
    }
}
