//! `POST /$batch` — JSON batching (docs/architecture.md, "Graph throttling
//! and JSON batching").
//!
//! At most 20 requests with unique `id`s; each runs through the real emulated
//! Graph router (so authentication, permissions, faults and error shapes are
//! exactly those of a direct call) with the outer request's `Authorization`.
//! Requests run one at a time in dependency order; a request whose
//! `dependsOn` names a request that did not succeed (non-2xx) is not run and
//! answers `424 Failed Dependency`. Malformed batches get a 400 for the whole
//! batch before anything runs, nested `$batch` included.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, Method};
use axum::response::Json;
use axum::routing::post;
use base64::Engine;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::GraphJson;
use super::auth::Caller;
use super::error::{GraphError, GraphResult};
use crate::SimState;
use crate::clock::graph_time;

/// "JSON batch requests are currently limited to 20 individual requests."
pub const MAX_REQUESTS: usize = 20;
/// Largest sub-response body the batch will carry.
const MAX_BODY: usize = 16 * 1024 * 1024;

pub fn routes() -> Router<SimState> {
    Router::new().route("/$batch", post(batch))
}

struct Step {
    id: String,
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    depends_on: Vec<String>,
}

/// `POST /$batch` — any authenticated caller; each request is then
/// authorized on its own, with the outer request's token.
async fn batch(
    State(state): State<SimState>,
    _caller: Caller,
    outer: HeaderMap,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Json<Value>> {
    let steps = parse(body)?;
    let order = dependency_order(&steps)?;
    let router = super::router(state.clone()).with_state(state.clone());
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses: BTreeMap<usize, Value> = BTreeMap::new();
    for index in order {
        let step = &steps[index];
        let failed = step
            .depends_on
            .iter()
            .find(|d| !statuses.get(*d).is_some_and(|s| (200..300).contains(s)));
        if let Some(dependency) = failed {
            statuses.insert(step.id.clone(), 424);
            responses.insert(index, failed_dependency(&state, step, dependency));
            continue;
        }
        let request = sub_request(step, &outer)?;
        let response = match router.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let answer = render(&step.id, response)
            .await
            .unwrap_or_else(|| gateway_timeout(&state, &step.id));
        let status = answer["status"].as_u64().unwrap_or(500) as u16;
        statuses.insert(step.id.clone(), status);
        responses.insert(index, answer);
    }
    Ok(Json(
        json!({ "responses": responses.into_values().collect::<Vec<_>>() }),
    ))
}

fn parse(body: Value) -> GraphResult<Vec<Step>> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::bad_request("Invalid batch payload format."))?;
    if requests.is_empty() {
        return Err(GraphError::bad_request(
            "Invalid batch payload format: 'requests' is empty.",
        ));
    }
    if requests.len() > MAX_REQUESTS {
        return Err(GraphError::bad_request(format!(
            "Invalid batch payload format: a batch may contain at most {MAX_REQUESTS} requests, this one has {}.",
            requests.len()
        )));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(requests.len());
    for raw in requests {
        let step = parse_step(raw)?;
        if steps.iter().any(|s| s.id == step.id) {
            return Err(GraphError::bad_request(format!(
                "Request ids must be unique; '{}' is used more than once.",
                step.id
            )));
        }
        steps.push(step);
    }
    for step in &steps {
        if let Some(missing) = step
            .depends_on
            .iter()
            .find(|d| !steps.iter().any(|s| &s.id == *d))
        {
            return Err(GraphError::bad_request(format!(
                "Request '{}' depends on '{missing}', which is not in the batch.",
                step.id
            )));
        }
    }
    Ok(steps)
}

fn parse_step(raw: &Value) -> GraphResult<Step> {
    let bad = |m: String| GraphError::bad_request(m);
    let object = raw.as_object().ok_or_else(|| {
        bad("Invalid batch payload format: every request must be an object.".into())
    })?;
    let id = match object.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(bad(
                "Every request in a batch needs a non-empty string 'id'.".into(),
            ));
        }
    };
    let method_name = object
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("Request '{id}' has no 'method'.")))?;
    let method = match method_name.to_ascii_uppercase().as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PATCH" => Method::PATCH,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        _ => {
            return Err(bad(format!(
                "Request '{id}' has an invalid method '{method_name}'."
            )));
        }
    };
    let raw_url = object
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad(format!("Request '{id}' has no 'url'.")))?;
    if raw_url.contains("://") {
        return Err(bad(format!(
            "Request '{id}': 'url' must be relative to the service root, such as /me."
        )));
    }
    let url = if raw_url.starts_with('/') {
        raw_url.to_owned()
    } else {
        format!("/{raw_url}")
    };
    if url
        .split('?')
        .next()
        .is_some_and(|p| p.trim_end_matches('/').eq_ignore_ascii_case("/$batch"))
    {
        return Err(bad("Nested batch requests are not supported.".into()));
    }
    let mut headers = Vec::new();
    match object.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = value.as_str().ok_or_else(|| {
                    bad(format!("Request '{id}': header '{name}' must be a string."))
                })?;
                headers.push((name.clone(), value.to_owned()));
            }
        }
        Some(_) => return Err(bad(format!("Request '{id}': 'headers' must be an object."))),
    }
    let body = object.get("body").filter(|b| !b.is_null()).cloned();
    let has_content_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if body.is_some() && !has_content_type {
        return Err(bad(format!(
            "Write request id : {id} does not contain Content-Type header or body."
        )));
    }
    let depends_on = match object.get("dependsOn") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad(format!(
                    "Request '{id}': 'dependsOn' must list request ids."
                ))
            })?,
        Some(_) => {
            return Err(bad(format!(
                "Request '{id}': 'dependsOn' must be an array."
            )));
        }
    };
    Ok(Step {
        id,
        method,
        url,
        headers,
        body,
        depends_on,
    })
}

/// Indices in an order where every request follows what it depends on
/// (stable: otherwise request order). Refuses cycles.
fn dependency_order(steps: &[Step]) -> GraphResult<Vec<usize>> {
    let mut done: Vec<bool> = vec![false; steps.len()];
    let mut order = Vec::with_capacity(steps.len());
    while order.len() < steps.len() {
        let ready = (0..steps.len()).find(|&i| {
            !done[i]
                && steps[i].depends_on.iter().all(|d| {
                    steps
                        .iter()
                        .position(|s| &s.id == d)
                        .is_some_and(|j| done[j])
                })
        });
        match ready {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                return Err(GraphError::bad_request(
                    "Invalid batch payload format: the requests' dependsOn form a cycle.",
                ));
            }
        }
    }
    Ok(order)
}

fn sub_request(step: &Step, outer: &HeaderMap) -> GraphResult<Request> {
    let mut builder = Request::builder()
        .method(step.method.clone())
        .uri(step.url.as_str());
    for (name, value) in &step.headers {
        if name.eq_ignore_ascii_case("authorization") {
            continue;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    for name in [AUTHORIZATION.as_str(), "client-request-id"] {
        if let Some(v) = outer.get(name) {
            builder = builder.header(name, v.clone());
        }
    }
    let body = match &step.body {
        None => Body::empty(),
        Some(Value::String(s))
            if !step
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v.contains("json")) =>
        {
            Body::from(s.clone())
        }
        Some(v) => Body::from(serde_json::to_vec(v).unwrap_or_default()),
    };
    builder.body(body).map_err(|_| {
        GraphError::bad_request(format!(
            "Request '{}' has an invalid url or header.",
            step.id
        ))
    })
}

/// Graph writes header names in their canonical casing (`Content-Type`).
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

async fn render(id: &str, response: axum::response::Response) -> Option<Value> {
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if let Ok(v) = value.to_str() {
            headers.insert(canonical(name.as_str()), json!(v));
        }
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    // A body that fails to read is a sub-request whose backend dropped
    // (an injected reset): the caller answers it as a gateway timeout.
    let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY)
        .await
        .ok()?;
    let mut out = json!({ "id": id, "status": status, "headers": headers });
    if !bytes.is_empty() {
        // Non-JSON bodies travel base64-encoded, as on Graph.
        out["body"] = match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) if is_json => v,
            _ => json!(base64::engine::general_purpose::STANDARD.encode(&bytes)),
        };
    }
    Some(out)
}

/// Graph's answer to a sub-request whose backend never answered: that one
/// request times out, never a 2xx without a body.
fn gateway_timeout(state: &SimState, id: &str) -> Value {
    json!({
        "id": id,
        "status": 504,
        "headers": { "Content-Type": "application/json" },
        "body": {
            "error": {
                "code": "GatewayTimeout",
                "message": "The backend did not answer in time.",
                "innerError": {
                    "date": graph_time(state.clock.now()).replace(".000", ""),
                    "request-id": uuid::Uuid::new_v4().to_string(),
                },
            }
        }
    })
}

fn failed_dependency(state: &SimState, step: &Step, dependency: &str) -> Value {
    json!({
        "id": step.id,
        "status": 424,
        "headers": { "Content-Type": "application/json" },
        "body": {
            "error": {
                "code": "FailedDependency",
                "message": format!("The request was not run: request '{dependency}' it depends on failed."),
                "innerError": {
                    "date": graph_time(state.clock.now()).replace(".000", ""),
                    "request-id": uuid::Uuid::new_v4().to_string(),
                },
            }
        }
    })
}
