//! The Slack driver API (`/sim/slack/…`): tests and the console act as each
//! person's Slack client. Sandbox only; anyone on loopback may call it.
//! Bodies and answers are JSON with camelCase keys; errors are
//! `{"error": "…"}` with a 4xx status.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /sim/slack/bot` | the bot's endpoints and the ack deadline |
//! | `POST /sim/slack/bot` `{"commands": url, "interactions": url, "ackTimeoutMs": 3000}` | where slash commands and interactions go (all fields optional) |
//! | `POST /sim/slack/tokens` `{"scopes": ["chat:write"]}` | another bot token of the same app with exactly these scopes → `{"token"}` |
//! | `GET /sim/slack/calls` | every Web API call (`method`, `status`, `ok`, `error`, `channel`, `atMs`) and every delivery to the bot (`timedOut` …) |
//! | `POST /sim/slack/personas/{key}/command` `{"text": "global-admin T-1 why", "command": "/request", "channel": "dm"}` | types a slash command (channel `dm` = the person's DM with the bot, or a channel id); sends the bot a signed form; answers with the bot's ack, the `triggerId` and `responseUrl` issued |
//! | `POST /sim/slack/personas/{key}/click` `{"channel": "D…", "ts": "…", "actionId": "approve", "blockId": null}` | clicks a button on a message the person can see; sends a signed `block_actions` payload with a fresh `trigger_id` and `response_url` |
//! | `POST /sim/slack/personas/{key}/submit` `{"values": {"<block_id>": {"<action_id>": "text"}}, "viewId": null, "force": false}` | submits the person's top modal; sends a signed `view_submission`; answers with the bot's `responseAction`, `errors` and the view now on top (`null` when closed). Required inputs and `min_length`/`max_length` are checked as Slack's client does unless `force` |
//! | `GET /sim/slack/personas/{key}/conversations/{channel}` | the conversation as the person sees it (`dm` or a channel id): the latest version of every message plus their ephemeral messages, in `ts` order |
//! | `GET /sim/slack/personas/{key}/views` | the person's open modals, bottom first |
//!
//! A slash command's immediate answer is shown as Slack shows it (ephemeral
//! unless `response_type: in_channel`); a bot that misses the 3 s deadline
//! is recorded (`timedOut`) and the person sees Slack's `operation_timeout`
//! notice.

mod interact;
mod modal;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::state::{ChannelKind, SlackUser, SlackWorld, random_hex};
use crate::SimState;

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/bot", get(bot).post(set_bot))
        .route("/tokens", post(tokens))
        .route("/calls", get(calls))
        .route("/personas/{key}/command", post(interact::command))
        .route("/personas/{key}/click", post(interact::click))
        .route("/personas/{key}/submit", post(modal::submit))
        .route("/personas/{key}/conversations/{channel}", get(conversation))
        .route("/personas/{key}/views", get(views))
}

pub(crate) fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    (status, Json(json!({ "error": detail.into() }))).into_response()
}

/// A refusal, answered as `problem`.
pub(crate) struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        problem(self.0, self.1)
    }
}

pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| Problem(StatusCode::BAD_REQUEST, format!("invalid body: {e}")))
}

/// The person behind persona `key`, if they can use Slack.
pub(crate) fn persona(world: &SlackWorld, key: &str) -> Result<SlackUser, Problem> {
    match world.user_by_key(key).or_else(|| world.users.get(key)) {
        Some(u) if u.deleted => Err(Problem(
            StatusCode::FORBIDDEN,
            format!("persona `{key}` is deactivated in Slack"),
        )),
        Some(u) => Ok(u.clone()),
        None => Err(Problem(
            StatusCode::NOT_FOUND,
            format!("no persona `{key}`"),
        )),
    }
}

/// `dm` → the person's DM with the bot; otherwise a channel they can see.
pub(crate) fn channel_for(
    world: &SlackWorld,
    user: &SlackUser,
    channel: &str,
) -> Result<String, Problem> {
    if channel == "dm" {
        return world
            .dm_of(&user.id)
            .map(|c| c.id.clone())
            .ok_or_else(|| Problem(StatusCode::NOT_FOUND, "no DM with the bot".into()));
    }
    let id = world
        .resolve_channel(channel)
        .unwrap_or_else(|| channel.to_owned());
    if world.can_see(&user.id, &id) {
        Ok(id)
    } else {
        Err(Problem(
            StatusCode::NOT_FOUND,
            format!("{} cannot see channel `{channel}`", user.key),
        ))
    }
}

/// Anyone on loopback: where the bot's endpoints are.
async fn bot(State(state): State<SimState>) -> Json<Value> {
    Json(json!(state.slack.lock().bot))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SetBot {
    commands: Option<String>,
    interactions: Option<String>,
    ack_timeout_ms: Option<u64>,
}

/// Anyone on loopback: points slash commands and interactions at the bot.
async fn set_bot(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let request: SetBot = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    for url in [&request.commands, &request.interactions]
        .into_iter()
        .flatten()
    {
        if url::Url::parse(url)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("`{url}` is not an http(s) URL"),
            );
        }
    }
    if request
        .ack_timeout_ms
        .is_some_and(|ms| ms == 0 || ms > 60_000)
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "ackTimeoutMs must be between 1 and 60000",
        );
    }
    let mut world = state.slack.lock();
    if let Some(url) = request.commands {
        world.bot.commands = Some(url);
    }
    if let Some(url) = request.interactions {
        world.bot.interactions = Some(url);
    }
    if let Some(ms) = request.ack_timeout_ms {
        world.bot.ack_timeout_ms = ms;
    }
    Json(json!(world.bot)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    scopes: Vec<String>,
}

/// Anyone on loopback: a second bot token with exactly `scopes`, to see
/// Slack refuse calls with `missing_scope`.
async fn tokens(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let request: TokenRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let token = format!(
        "xoxb-{}-{}",
        rand::random::<u32>() % 1_000_000_000,
        random_hex(12)
    );
    state
        .slack
        .lock()
        .tokens
        .insert(token.clone(), request.scopes);
    Json(json!({ "token": token })).into_response()
}

/// Anyone on loopback: the Web API call log and the deliveries to the bot.
async fn calls(State(state): State<SimState>) -> Json<Value> {
    let world = state.slack.lock();
    let calls: Vec<Value> = world
        .calls
        .iter()
        .map(|c| json!({ "method": c.method, "status": c.status, "ok": c.ok, "error": c.error, "channel": c.channel, "atMs": c.at_ms }))
        .collect();
    let deliveries: Vec<Value> = world
        .deliveries
        .iter()
        .map(|d| json!({ "kind": d.kind, "url": d.url, "status": d.status, "elapsedMs": d.elapsed_ms, "timedOut": d.timed_out, "error": d.error }))
        .collect();
    Json(json!({ "calls": calls, "deliveries": deliveries }))
}

/// Anyone on loopback: a conversation as persona `key` sees it.
async fn conversation(
    State(state): State<SimState>,
    Path((key, channel)): Path<(String, String)>,
) -> Response {
    let world = state.slack.lock();
    let user = match persona(&world, &key) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let channel_id = match channel_for(&world, &user, &channel) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(conversation) = world.channels.get(&channel_id) else {
        return problem(StatusCode::NOT_FOUND, "no such channel");
    };
    let mut messages: Vec<(String, Value)> = conversation
        .messages
        .iter()
        .map(|m| {
            (m.ts.clone(), json!({
                "ts": m.ts, "text": m.text, "blocks": m.blocks, "user": m.user, "botId": m.bot_id,
                "edited": m.edited, "ephemeral": false,
            }))
        })
        .collect();
    messages.extend(
        world
            .ephemerals
            .iter()
            .filter(|e| e.channel == channel_id && e.user == user.id)
            .map(|e| {
                (
                    e.ts.clone(),
                    json!({
                        "ts": e.ts, "text": e.text, "blocks": e.blocks, "user": null,
                        "botId": state.slack.bot_id, "edited": null, "ephemeral": true,
                    }),
                )
            }),
    );
    messages.sort_by_key(|m| ts_key(&m.0));
    let kind = match conversation.kind {
        ChannelKind::Im { .. } => "im",
        ChannelKind::Public => "channel",
    };
    Json(json!({
        "channel": channel_id, "name": conversation.name, "kind": kind,
        "messages": messages.into_iter().map(|(_, m)| m).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// `ts` strings compare numerically, not lexically.
fn ts_key(ts: &str) -> (u64, u64) {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    (secs.parse().unwrap_or(0), micros.parse().unwrap_or(0))
}

/// Anyone on loopback: persona `key`'s open modals, bottom first.
async fn views(State(state): State<SimState>, Path(key): Path<String>) -> Response {
    let world = state.slack.lock();
    let user = match persona(&world, &key) {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let stack: Vec<Value> = world
        .view_stacks
        .get(&user.id)
        .into_iter()
        .flatten()
        .filter_map(|id| world.views.get(id))
        .filter(|v| v.open)
        .map(|v| v.view.clone())
        .collect();
    Json(json!({ "views": stack })).into_response()
}
