//! `/slack/api/{method}`: the emulated slack.com/api.
//!
//! As Slack does: arguments by GET query, POST form or POST JSON (JSON only
//! with `Authorization: Bearer`; a form or query may carry `token`), HTTP 200
//! with `{"ok":false,"error":…}` on failure, 429 + `Retry-After` when over the
//! rate limit, `missing_scope` with `needed`/`provided`. An absent required
//! argument is `invalid_arguments` (`[ERROR] missing required field: x`),
//! one present but naming nothing is the method's lookup error
//! (`channel_not_found`): Slack separates the two (measured against
//! slack.com in brekkylab/backlot#84).

mod chat;
mod conversations;
mod users;
pub(crate) mod views;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::state::CallRecord;
use crate::SimState;

/// Arguments however they were sent; form values are strings.
#[derive(Debug, Default)]
pub struct Args(Map<String, Value>);

impl Args {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn present(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }

    /// A required argument: absent → `invalid_arguments`.
    pub fn required(&self, key: &str) -> Result<&str, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Err(ApiError::missing(key)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(ApiError::new("invalid_arguments").messages(vec![format!(
                "[ERROR] must be a string [json-pointer:/{key}]"
            )])),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "1"),
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            _ => false,
        }
    }

    /// A JSON argument (`blocks`, `view`): a JSON-encoded string in forms,
    /// the value itself in JSON bodies. `Err(())` when it does not parse.
    #[allow(clippy::result_unit_err)] // callers map it to their own error code
    pub fn json(&self, key: &str) -> Result<Option<Value>, ()> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(other) => Ok(Some(other.clone())),
        }
    }
}

/// A failure answer: `{"ok": false, "error": …, …}` with HTTP 200.
#[derive(Debug)]
pub struct ApiError {
    error: String,
    extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(error: &str) -> Self {
        Self {
            error: error.into(),
            extra: Map::new(),
        }
    }

    pub fn missing(key: &str) -> Self {
        Self::new("invalid_arguments")
            .messages(vec![format!("[ERROR] missing required field: {key}")])
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    pub fn messages(self, messages: Vec<String>) -> Self {
        self.with("response_metadata", json!({ "messages": messages }))
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// Who is calling: the token's scopes.
pub struct Caller {
    pub scopes: Vec<String>,
}

impl Caller {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The scope each method needs from a bot token (docs/architecture.md, "Slack
/// Web API"); `None` for views.* and auth.test, which need none.
/// conversations.history needs the one of the conversation it reads
/// (`im:history` for a DM), so `args` too.
fn needed_scope(state: &SimState, method: &str, args: &Args) -> Option<&'static str> {
    match method {
        "chat.postMessage" | "chat.update" | "chat.postEphemeral" => Some("chat:write"),
        "conversations.open" => Some("im:write"),
        "conversations.history" => conversations::history_scope(state, args.str("channel")),
        "users.info" => Some("users:read"),
        "users.lookupByEmail" => Some("users:read.email"),
        _ => None,
    }
}

fn reply(status: StatusCode, body: Value, scopes: Option<(&[String], Option<&str>)>) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some((provided, needed)) = scopes {
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&provided.join(",")) {
            headers.insert("x-oauth-scopes", v);
        }
        if let Ok(v) = HeaderValue::from_str(needed.unwrap_or("")) {
            headers.insert("x-accepted-oauth-scopes", v);
        }
    }
    response
}

fn parse_args(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(Args, Option<String>), ApiError> {
    let mut args = Map::new();
    let mut token = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        args.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json = *method == Method::POST && content_type == "application/json";
    if *method == Method::POST && !body.is_empty() {
        match content_type.as_str() {
            "application/json" => {
                let value: Value =
                    serde_json::from_slice(body).map_err(|_| ApiError::new("invalid_json"))?;
                let Value::Object(object) = value else {
                    return Err(ApiError::new("json_not_object"));
                };
                args.extend(object);
            }
            "application/x-www-form-urlencoded" => {
                let text =
                    std::str::from_utf8(body).map_err(|_| ApiError::new("invalid_form_data"))?;
                for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
                    args.insert(k.into_owned(), Value::String(v.into_owned()));
                }
            }
            _ => return Err(ApiError::new("invalid_post_type")),
        }
    }
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        token = auth.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
    }
    // A JSON body's `token` is ignored: JSON needs the header
    // (api.slack.com changelog 2017-10 "keeping up with the JSONs").
    let in_args = args.remove("token");
    if token.is_none() && !is_json {
        token = in_args.and_then(|v| v.as_str().map(str::to_owned));
    }
    Ok((Args(args), token))
}

/// A `/sim/faults` rule for service `slack` (path `/api/{method}`): 429 is
/// `ratelimited` with `Retry-After`, 500 is `internal_error`, as Slack and
/// its SDKs' mocks answer them (docs/architecture.md, "Slack rate limits").
async fn injected_fault(state: &SimState, method: &str) -> Option<Response> {
    let fault = state
        .faults
        .check("slack", "POST", &format!("/api/{method}"))?;
    if !fault.delay.is_zero() {
        tokio::time::sleep(fault.delay).await;
    }
    let status = fault.status?;
    let error = if status == StatusCode::TOO_MANY_REQUESTS {
        "ratelimited"
    } else {
        "internal_error"
    };
    let mut response = (status, axum::Json(json!({ "ok": false, "error": error }))).into_response();
    if let Some(secs) = fault
        .retry_after
        .filter(|_| status == StatusCode::TOO_MANY_REQUESTS)
    {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs.max(1)));
    }
    Some(response)
}

/// Anyone holding a bot token (`Authorization: Bearer xoxb-…` or `token=`):
/// runs `method` after checking the token, its scopes and the rate limit.
pub async fn api(
    State(state): State<SimState>,
    Path(method): Path<String>,
    http_method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == "chat.postMessage"
        && state
            .chaos
            .pass(crate::tripwire::Moment::OutboxDelivery)
            .await
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response();
    }
    if let Some(response) = injected_fault(&state, &method).await {
        return response;
    }
    let started = state.slack.started;
    let record =
        |status: u16, result: &Result<Value, &ApiError>, channel: Option<String>| CallRecord {
            method: method.clone(),
            status,
            ok: result.is_ok(),
            error: result.as_ref().err().map(|e| e.error.clone()),
            channel,
            at_ms: started.elapsed().as_millis() as u64,
        };
    let outcome = (|| {
        let run: fn(&SimState, &Args, &Caller) -> ApiResult = match method.as_str() {
            "chat.postMessage" => chat::post_message,
            "chat.update" => chat::update,
            "chat.postEphemeral" => chat::post_ephemeral,
            "conversations.open" => users::conversations_open,
            "conversations.history" => conversations::history,
            "users.info" => users::info,
            "users.lookupByEmail" => users::lookup_by_email,
            "auth.test" => users::auth_test,
            "views.open" => views::open,
            "views.update" => views::update,
            _ => return Err((ApiError::new("unknown_method"), None)),
        };
        let (args, token) =
            parse_args(&http_method, &headers, query.as_deref(), &body).map_err(|e| (e, None))?;
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err((ApiError::new("not_authed"), None));
        };
        let scopes = state
            .slack
            .scopes_of(&token)
            .ok_or((ApiError::new("invalid_auth"), None))?;
        let needed = needed_scope(&state, &method, &args);
        if let Some(needed) = needed
            && !scopes.iter().any(|s| s == needed)
        {
            let error = ApiError::new("missing_scope")
                .with("needed", json!(needed))
                .with("provided", json!(scopes.join(",")));
            return Err((error, Some((scopes, Some(needed)))));
        }
        Ok((run, args, scopes, needed))
    })();
    let (run, args, scopes, needed) = match outcome {
        Ok(ok) => ok,
        Err((error, scopes)) => {
            state
                .slack
                .lock()
                .calls
                .push(record(200, &Err(&error), None));
            let mut body = json!({ "ok": false, "error": error.error });
            if let Some(b) = body.as_object_mut() {
                b.extend(error.extra);
            }
            let scopes = scopes
                .as_ref()
                .map(|(provided, needed)| (provided.as_slice(), *needed));
            return reply(StatusCode::OK, body, scopes);
        }
    };
    let channel = args.str("channel").map(|c| state.slack.rate_key_channel(c));
    if let Err(retry_after) = state.slack.limits.check(&method, channel.as_deref()) {
        let error = ApiError::new("ratelimited");
        state
            .slack
            .lock()
            .calls
            .push(record(429, &Err(&error), channel));
        let mut response = reply(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "ok": false, "error": "ratelimited" }),
            None,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs()),
        );
        return response;
    }
    let caller = Caller { scopes };
    let result = run(&state, &args, &caller);
    state
        .slack
        .lock()
        .calls
        .push(record(200, &result.as_ref().map(Clone::clone), channel));
    let scopes = Some((caller.scopes.as_slice(), needed));
    match result {
        Ok(mut body) => {
            body.as_object_mut()
                .map(|b| b.insert("ok".into(), json!(true)));
            reply(StatusCode::OK, body, scopes)
        }
        Err(error) => {
            let mut body = json!({ "ok": false, "error": error.error });
            if let Some(b) = body.as_object_mut() {
                b.extend(error.extra);
            }
            reply(StatusCode::OK, body, scopes)
        }
    }
}

/// Content arguments shared by the chat.* methods: `(text, blocks)`.
pub fn message_content(args: &Args) -> Result<(Option<String>, Option<Vec<Value>>), ApiError> {
    if args.present("text") && args.present("markdown_text") {
        return Err(ApiError::new("markdown_text_conflict"));
    }
    let text = args
        .str("text")
        .or(args.str("markdown_text"))
        .map(str::to_owned);
    let blocks = match args.json("blocks") {
        Err(()) => return Err(ApiError::new("invalid_blocks_format")),
        Ok(None) => None,
        Ok(Some(blocks)) => {
            super::blocks::validate(&blocks, super::blocks::MESSAGE_BLOCKS, "/blocks").map_err(
                |problems| {
                    ApiError::new("invalid_blocks")
                        .with("errors", json!(problems))
                        .messages(problems.iter().map(|p| format!("[ERROR] {p}")).collect())
                },
            )?;
            let mut blocks = blocks.as_array().cloned().unwrap_or_default();
            // Slack gives every block without one a random block_id.
            for block in blocks.iter_mut() {
                if block.get("block_id").is_none() {
                    block["block_id"] = json!(super::state::random_hex(2));
                }
            }
            Some(blocks)
        }
    };
    let has_text = text.as_deref().is_some_and(|t| !t.trim().is_empty());
    let has_blocks = blocks.as_ref().is_some_and(|b| !b.is_empty());
    if !has_text && !has_blocks && !args.present("attachments") {
        return Err(ApiError::new("no_text"));
    }
    Ok((text, blocks))
}
