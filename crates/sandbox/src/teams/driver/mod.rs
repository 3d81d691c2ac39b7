//! The Teams driver (`/sim/teams/…`): plays each persona's Teams client for
//! tests and the console. It sends what Teams would send the bot (signed
//! `message`, `conversationUpdate` and `invoke` activities, shaped like the
//! docs examples in `shared/teams/examples/`) and shows conversations as a
//! persona sees them. Sandbox only; anyone on loopback may call it.

mod card;
mod persona;
mod refresh;
mod submit;

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{ConversationKind, render};
use super::{CHANNEL_ID, Fault, Stats, bot_id, personal_conversation_id, teams_user_id};
use crate::SimState;

/// Teams gives the bot 15 s to answer (bot-builder-basics: 504 after that).
pub const BOT_TIMEOUT: Duration = Duration::from_secs(15);
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// The `/sim/teams` routes (merged into the `/sim` router).
pub fn router() -> Router<SimState> {
    Router::new()
        .route("/teams", get(info))
        .route("/teams/bot", post(set_bot))
        .route("/teams/faults", post(inject_faults))
        .route("/teams/personas/{key}/install", post(persona::install))
        .route("/teams/personas/{key}/block", post(persona::block))
        .route("/teams/personas/{key}/messages", post(persona::message))
        .route("/teams/personas/{key}/invoke", post(persona::invoke))
        .route("/teams/personas/{key}/submit", post(submit::submit))
        .route("/teams/personas/{key}/open", post(refresh::open))
        .route(
            "/teams/personas/{key}/conversation",
            get(persona::conversation),
        )
        .route(
            "/teams/channels/{channel_id}/install",
            post(install_in_team),
        )
        .route(
            "/teams/channels/{channel_id}/messages",
            get(channel_messages),
        )
}

pub(crate) fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    Problem(status, detail.into()).into_response()
}

/// A driver error: `{"error": "…"}` like the rest of `/sim`.
pub(crate) struct Problem(pub StatusCode, pub String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// Anyone on loopback: the bot's Teams identity, each persona's Teams id and
/// install state, the team and channels, and the emulator's counters.
async fn info(State(state): State<SimState>) -> Json<Value> {
    let world = state.world();
    let app_id = world.app.client_id.clone();
    let store = state.teams.store();
    let personas: Vec<Value> = world
        .users
        .values()
        .map(|u| {
            let install = store.installs.get(&u.id);
            json!({
                "key": u.key, "aadObjectId": u.id, "teamsUserId": teams_user_id(&app_id, &u.id),
                "conversationId": personal_conversation_id(&app_id, &u.id),
                "installed": install.is_some(), "blocked": install.is_some_and(|i| i.blocked),
            })
        })
        .collect();
    let teams: Vec<Value> = store
        .teams
        .iter()
        .map(|t| {
            let channels: Vec<Value> = t
                .channels
                .iter()
                .map(|c| json!({ "id": c.id, "name": c.name }))
                .collect();
            json!({ "id": t.id, "name": t.name, "aadGroupId": t.aad_group_id,
                    "botInstalled": t.bot_installed, "channels": channels })
        })
        .collect();
    let stats = &state.teams.stats;
    Json(json!({
        "botAppId": app_id,
        "botId": bot_id(&app_id),
        "tenantId": world.tenant_id,
        "serviceUrl": format!("{}/teams/", state.base_url),
        "openIdMetadataUrl": super::metadata::openid_metadata_url(&state),
        "botEndpoint": state.teams.bot_endpoint(),
        "personas": personas,
        "teams": teams,
        "stats": {
            "metadataFetches": Stats::get(&stats.metadata_fetches),
            "keyFetches": Stats::get(&stats.key_fetches),
            "connectorCalls": Stats::get(&stats.connector_calls),
            "throttled": Stats::get(&stats.throttled),
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BotEndpoint {
    endpoint: Option<String>,
}

/// Anyone on loopback: where the emulated Teams delivers activities (the
/// bot's messaging endpoint, `…/api/teams/messages`).
async fn set_bot(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let request: BotEndpoint = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"endpoint\": \"http://…\"}}: {e}"),
            );
        }
    };
    if let Some(endpoint) = &request.endpoint {
        match url::Url::parse(endpoint) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return problem(StatusCode::BAD_REQUEST, "endpoint must be an http(s) URL"),
        }
    }
    state.teams.set_bot_endpoint(request.endpoint.clone());
    Json(json!({ "endpoint": request.endpoint })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FaultRequest {
    status: u16,
    code: Option<String>,
    retry_after: Option<u64>,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

/// Anyone on loopback: the next `count` connector calls answer `status`
/// (412, 429 with or without `retryAfter`, 502/503/504, 403 …).
async fn inject_faults(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid fault: {e}")),
    };
    if !(400..=599).contains(&request.status) || request.count == 0 || request.count > 1000 {
        return problem(
            StatusCode::BAD_REQUEST,
            "status must be 400–599 and count 1–1000",
        );
    }
    let code = request
        .code
        .unwrap_or_else(|| default_code(request.status).to_owned());
    let fault = Fault {
        status: request.status,
        code,
        retry_after: request.retry_after,
    };
    state.teams.inject_faults(fault, request.count);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "queued": request.count })),
    )
        .into_response()
}

/// Teams' codes for each status (docs/architecture.md, "Teams activities
/// and cards").
fn default_code(status: u16) -> &'static str {
    match status {
        401 => "BotNotRegistered",
        403 => "ConversationBlockedByUser",
        404 => "ConversationNotFound",
        412 => "PreconditionFailed",
        413 => "MessageSizeTooBig",
        429 => "Throttled",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "ServiceError",
    }
}

/// Anyone on loopback: installs the bot in the team that owns `channel_id`
/// and tells the bot (signed `conversationUpdate`, `teamMemberAdded`).
async fn install_in_team(
    State(state): State<SimState>,
    Path(channel_id): Path<String>,
) -> Response {
    let (team_id, team_name, aad_group_id, general) = {
        let mut store = state.teams.store();
        let Some(team) = store
            .teams
            .iter_mut()
            .find(|t| t.channels.iter().any(|c| c.id == channel_id))
        else {
            return problem(StatusCode::NOT_FOUND, format!("no channel {channel_id}"));
        };
        team.bot_installed = true;
        let general = team
            .channels
            .first()
            .map(|c| (c.id.clone(), c.name.clone()));
        (
            team.id.clone(),
            team.name.clone(),
            team.aad_group_id.clone(),
            general,
        )
    };
    let (general_id, general_name) = general.unwrap_or((team_id.clone(), "General".into()));
    let (app_id, app_name, tenant, installer) = {
        let world = state.world();
        let installer = world
            .users
            .values()
            .find(|u| u.account_enabled)
            .map(|u| u.id.clone());
        (
            world.app.client_id.clone(),
            world.app.display_name.clone(),
            world.tenant_id.clone(),
            installer,
        )
    };
    let from = installer
        .map(|id| json!({ "id": teams_user_id(&app_id, &id), "aadObjectId": id }))
        .unwrap_or_else(|| json!({ "id": "29:admin" }));
    let activity = json!({
        "type": "conversationUpdate",
        "membersAdded": [{ "id": bot_id(&app_id) }],
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "id": format!("f:{}", uuid::Uuid::new_v4()),
        "channelId": CHANNEL_ID,
        "serviceUrl": format!("{}/teams/", state.base_url),
        "from": from,
        "conversation": { "isGroup": true, "conversationType": "channel", "tenantId": tenant,
                          "id": general_id, "name": general_name },
        "recipient": { "id": bot_id(&app_id), "name": app_name },
        "channelData": {
            "settings": { "selectedChannel": { "id": channel_id } },
            "team": { "aadGroupId": aad_group_id, "name": team_name, "id": team_id },
            "eventType": "teamMemberAdded",
            "tenant": { "id": tenant },
        },
    });
    let bot = deliver(&state, &activity).await;
    Json(json!({ "teamId": team_id, "bot": bot })).into_response()
}

#[derive(Deserialize)]
struct ViewQuery {
    #[serde(rename = "as")]
    viewer: Option<String>,
}

/// Anyone on loopback: a channel's threads (root post and replies, latest
/// version of each card), as persona `?as=key` sees them.
async fn channel_messages(
    State(state): State<SimState>,
    Path(channel_id): Path<String>,
    Query(query): Query<ViewQuery>,
) -> Response {
    let viewer = match &query.viewer {
        Some(key) => match state.world().user_by_key(key) {
            Some(u) => Some(u.id.clone()),
            None => return problem(StatusCode::NOT_FOUND, format!("no persona `{key}`")),
        },
        None => None,
    };
    let mut store = state.teams.store();
    let Some(channel) = store.conversation_mut(&channel_id).cloned() else {
        return problem(StatusCode::NOT_FOUND, format!("no channel {channel_id}"));
    };
    if !matches!(channel.kind, ConversationKind::Channel { .. }) {
        return problem(
            StatusCode::BAD_REQUEST,
            format!("{channel_id} is not a channel"),
        );
    }
    let threads: Vec<Value> = channel
        .activities
        .iter()
        .map(|root| {
            let thread_id = format!("{channel_id};messageid={}", root.id);
            let replies: Vec<Value> = store
                .conversations
                .get(&thread_id)
                .map(|t| t.activities.iter().map(|a| render(a, viewer.as_deref())).collect())
                .unwrap_or_default();
            json!({ "conversationId": thread_id, "root": render(root, viewer.as_deref()), "replies": replies })
        })
        .collect();
    Json(json!({ "channelId": channel_id, "threads": threads })).into_response()
}

/// Posts a signed activity to the bot as the connector would, and reports
/// the bot's answer (`null` when no bot endpoint is configured).
/// Tells the bot its app was installed for `user_id` by someone else (an
/// app calling Graph): Teams then sends it the same `conversationUpdate`
/// as when the person installs it (msteams-docs, proactive installation:
/// "the bot will receive a `conversationUpdate`").
pub(crate) async fn announce_personal_install(state: &SimState, user_id: &str) {
    let key = state.world().user(user_id).map(|u| u.key.clone());
    let Some(persona) = key.and_then(|k| persona::Persona::lookup(state, &k).ok()) else {
        return;
    };
    persona::announce(state, &persona).await;
}

pub(crate) async fn deliver(state: &SimState, activity: &Value) -> Value {
    let Some(endpoint) = state.teams.bot_endpoint() else {
        return Value::Null;
    };
    let app_id = state.world().app.client_id.clone();
    let service_url = format!("{}/teams/", state.base_url);
    let token = state.teams.channel_token(&app_id, &service_url);
    state
        .entra
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .record_issued(&token);
    let sent = state
        .teams
        .http
        .post(&endpoint)
        .bearer_auth(token)
        .json(activity)
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            state.record_bot_answer(&text);
            let body = serde_json::from_str::<Value>(&text).unwrap_or(if text.is_empty() {
                Value::Null
            } else {
                Value::String(text)
            });
            json!({ "status": status, "body": body })
        }
        Err(e) if e.is_timeout() => {
            json!({ "status": 504, "body": null, "error": "the bot did not answer within 15 s" })
        }
        Err(e) => {
            json!({ "status": 502, "body": null, "error": format!("bot unreachable: {}", e.without_url()) })
        }
    }
}
