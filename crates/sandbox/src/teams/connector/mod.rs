//! The emulated Bot Connector service (`{serviceUrl}v3/…`, with serviceUrl
//! `{sim}/teams/`): the bot's bearer token checked on every call, bodies
//! validated against the v3 swagger, Teams' rate limits and error shapes.

pub mod conversations;

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ratelimit::Operation;
use super::{CONNECTOR_AUDIENCE, Stats};
use crate::SimState;
use crate::tokens::v1_issuer;

/// Teams refuses messages over about 28 KB ("MessageSizeTooBig"); the
/// serialized activity is what is measured here.
pub const MAX_ACTIVITY_BYTES: usize = 28 * 1024;

/// The `/teams/v3` routes.
pub fn router() -> Router<SimState> {
    use conversations as c;
    Router::new()
        .route("/conversations", post(c::create_conversation))
        .route(
            "/conversations/{conversation_id}/activities",
            post(c::send_to_conversation),
        )
        .route(
            "/conversations/{conversation_id}/activities/{activity_id}",
            post(c::reply_to_activity).put(c::update_activity),
        )
        .route(
            "/conversations/{conversation_id}/members",
            get(c::get_members),
        )
        .fallback(unknown_route)
        .layer(middleware::from_fn(correlation))
}

/// Every connector response carries `X-Correlating-OperationId` ([BF-API]).
async fn correlation(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert("x-correlating-operationid", value);
    }
    response
}

async fn unknown_route(_bot: BotCaller) -> ConnectorError {
    ConnectorError::new(StatusCode::NOT_FOUND, "NotFound", "Resource not found.")
}

/// A connector error, in the shape Teams returns it.
#[derive(Debug)]
pub enum ConnectorError {
    /// `ErrorResponse {error:{code,message}}` (swagger).
    Error {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// A missing or invalid bot token: the connector's ASP.NET body.
    Unauthorized,
    /// The user blocked or uninstalled the bot: Teams' own 403 body, which
    /// is not the ErrorResponse shape (docs/architecture.md, "Teams
    /// activities and cards").
    MessageWritesBlocked,
    /// 429 `Throttled`; `retry_after: None` sends no `Retry-After`.
    Throttled { retry_after: Option<Duration> },
}

impl ConnectorError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::Error {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    pub fn bad_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadArgument", message)
    }

    pub fn conversation_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ConversationNotFound",
            "Conversation not found.",
        )
    }

    pub fn not_in_roster() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "BotNotInConversationRoster",
            "The bot is not part of the conversation roster.",
        )
    }

    fn from_fault(fault: &super::Fault) -> Self {
        if fault.status == 429 {
            return Self::Throttled {
                retry_after: fault.retry_after.map(Duration::from_secs),
            };
        }
        if fault.code == "MessageWritesBlocked" {
            return Self::MessageWritesBlocked;
        }
        let status = StatusCode::from_u16(fault.status).unwrap_or(StatusCode::BAD_GATEWAY);
        Self::new(
            status,
            &fault.code,
            format!("Injected {} fault.", fault.code),
        )
    }
}

impl IntoResponse for ConnectorError {
    fn into_response(self) -> Response {
        match self {
            Self::Error {
                status,
                code,
                message,
            } => (
                status,
                Json(json!({ "error": { "code": code, "message": message } })),
            )
                .into_response(),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "message": "Authorization has been denied for this request." })),
            )
                .into_response(),
            Self::MessageWritesBlocked => {
                let inner = "{\r\n  \"subCode\": \"MessageWritesBlocked\",\r\n  \"details\": \"Thread is blocked from message writes.\",\r\n  \"errorCode\": null,\r\n  \"errorSubCode\": null\r\n}";
                (
                    StatusCode::FORBIDDEN,
                    Json(json!({ "errorCode": 209, "message": inner })),
                )
                    .into_response()
            }
            Self::Throttled { retry_after } => {
                let body = Json(json!({ "error": {
                    "code": "Throttled",
                    "message": "The request was throttled; retry later.",
                }}));
                let mut response = (StatusCode::TOO_MANY_REQUESTS, body).into_response();
                if let Some(wait) = retry_after {
                    // Whole seconds, rounded up so a client that obeys is on time.
                    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                    response
                        .headers_mut()
                        .insert("retry-after", HeaderValue::from(secs.max(1)));
                }
                response
            }
        }
    }
}

/// The bot, authenticated by the token it got from Entra by client
/// credentials for `https://api.botframework.com/.default`.
#[derive(Debug, Clone)]
pub struct BotCaller {
    pub app_id: String,
}

#[derive(Deserialize)]
struct ConnectorClaims {
    tid: String,
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    azp: Option<String>,
}

impl FromRequestParts<SimState> for BotCaller {
    type Rejection = ConnectorError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SimState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(ConnectorError::Unauthorized)?;
        let tenant = state.tenant_id();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[CONNECTOR_AUDIENCE]);
        // Entra issues v1.0 tokens for this resource (Microsoft's example
        // has `iss: https://sts.windows.net/…/`; docs/architecture.md,
        // "Teams authentication"); v2.0 is accepted too.
        validation.set_issuer(&[
            v1_issuer(&tenant),
            format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            // The emulated Entra stands in for login.microsoftonline.com
            // and issues the bot's connector tokens under its own v2.0
            // issuer (`{sim}/login/{tenant}/v2.0`).
            crate::entra::discovery::v2_issuer(state),
        ]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        let claims: ConnectorClaims = state
            .entra_keys
            .verify(token, &validation)
            .map_err(|_| ConnectorError::Unauthorized)?;
        let app_id = claims.appid.or(claims.azp).unwrap_or_default();
        let bot_app_id = state.world().app.client_id.clone();
        if claims.tid != tenant || app_id != bot_app_id {
            return Err(ConnectorError::Unauthorized);
        }
        Ok(BotCaller { app_id })
    }
}

/// Mints the token Entra would issue the bot by client credentials for
/// `https://api.botframework.com/.default` (v1.0 format, like Microsoft's
/// example; docs/architecture.md, "Teams authentication"). For tests and for
/// the emulated Entra's token endpoint.
pub fn mint_connector_token(state: &SimState, lifetime_secs: i64) -> String {
    let (tenant, app_id, sp_id) = {
        let world = state.world();
        (
            world.tenant_id.clone(),
            world.app.client_id.clone(),
            world.app.service_principal_id.clone(),
        )
    };
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "aud": CONNECTOR_AUDIENCE,
        "iss": v1_issuer(&tenant),
        "tid": tenant,
        "appid": app_id,
        "appidacr": "1",
        "idtyp": "app",
        "oid": sp_id,
        "sub": sp_id,
        "ver": "1.0",
        "uti": uuid::Uuid::new_v4().simple().to_string(),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_secs,
    });
    state.entra_key().sign(&claims)
}

/// Counts the call, serves an injected fault if one is queued, then applies
/// Teams' rate limits for `operation` on `thread`.
pub fn admit(state: &SimState, operation: Operation, thread: &str) -> Result<(), ConnectorError> {
    let teams = &state.teams;
    Stats::bump(&teams.stats.connector_calls);
    if let Some(fault) = teams.next_fault() {
        if fault.status == 429 {
            Stats::bump(&teams.stats.throttled);
        }
        return Err(ConnectorError::from_fault(&fault));
    }
    // `/sim/faults` rules for service `teams` (storms): status only.
    let path = match operation {
        Operation::Send => "/v3/conversations/activities",
        Operation::Read => "/v3/conversations/members",
    };
    if let Some(rule) = state.faults.check("teams", "POST", path)
        && let Some(status) = rule.status
    {
        let code = match status.as_u16() {
            412 => "PreconditionFailed",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            _ => "GatewayTimeout",
        };
        return Err(ConnectorError::from_fault(&super::Fault {
            status: status.as_u16(),
            code: code.into(),
            retry_after: rule.retry_after,
        }));
    }
    teams.limits().admit(operation, thread).map_err(|wait| {
        Stats::bump(&teams.stats.throttled);
        ConnectorError::Throttled {
            retry_after: Some(wait),
        }
    })
}

/// Parses a body as JSON and validates it against swagger `definition`.
pub fn parse_body(body: &[u8], definition: &str) -> Result<Value, ConnectorError> {
    if body.len() > MAX_ACTIVITY_BYTES {
        return Err(ConnectorError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MessageSizeTooBig",
            format!(
                "Message size ({} bytes) exceeds the limit of {MAX_ACTIVITY_BYTES} bytes.",
                body.len()
            ),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ConnectorError::new(
            StatusCode::BAD_REQUEST,
            "BadSyntax",
            format!("The request body is not valid JSON: {e}"),
        )
    })?;
    super::schema::validate(definition, &value).map_err(ConnectorError::bad_argument)?;
    Ok(value)
}
