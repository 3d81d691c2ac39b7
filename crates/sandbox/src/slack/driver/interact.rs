//! The driver's actions that make the emulator call the bot: a slash
//! command and a button click. Payloads are shaped like the
//! fixtures in shared/slack/fixtures (bolt's captures of real Slack).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{channel_for, parse_body, persona, problem};
use crate::SimState;
use crate::slack::deliver::{Ack, deliver};
use crate::slack::hooks::post_response;
use crate::slack::state::HookSource;
use crate::slack::{COMMAND, SlackSim};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CommandRequest {
    #[serde(default)]
    text: String,
    command: Option<String>,
    channel: Option<String>,
}

pub(super) fn user_json(sim: &SlackSim, user: &crate::slack::state::SlackUser) -> Value {
    json!({ "id": user.id, "username": user.name, "name": user.name, "team_id": sim.team_id })
}

pub(super) fn team_json(sim: &SlackSim) -> Value {
    json!({ "id": sim.team_id, "domain": sim.team_domain })
}

fn now_ts() -> String {
    let now = chrono::Utc::now();
    format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros())
}

/// Anyone on loopback: persona `key` types a slash command.
pub(super) async fn command(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: CommandRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let sim = &state.slack;
    let now = state.clock.now();
    let (url, form, user, channel_id, trigger, hook_url) = {
        let mut world = sim.lock();
        let user = match persona(&world, &key) {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
        let channel_id =
            match channel_for(&world, &user, request.channel.as_deref().unwrap_or("dm")) {
                Ok(c) => c,
                Err(e) => return e.into_response(),
            };
        let Some(url) = world.bot.commands.clone() else {
            return problem(
                StatusCode::CONFLICT,
                "the bot's command URL is not set (POST /sim/slack/bot)",
            );
        };
        let channel_name = match world.channels.get(&channel_id) {
            Some(c) if c.id.starts_with('D') => "directmessage".to_owned(),
            Some(c) => c.name.clone(),
            None => String::new(),
        };
        let trigger = world.issue_trigger(&user.id, now);
        let hook = world.issue_hook(&user.id, &channel_id, HookSource::Command, now);
        let hook_url = SlackSim::hook_url(&state.base_url, &hook);
        let command = request.command.clone().unwrap_or_else(|| COMMAND.into());
        // Field order as in Slack's own example bodies.
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", sim.verification_token())
            .append_pair("team_id", &sim.team_id)
            .append_pair("team_domain", &sim.team_domain)
            .append_pair("channel_id", &channel_id)
            .append_pair("channel_name", &channel_name)
            .append_pair("user_id", &user.id)
            .append_pair("user_name", &user.name)
            .append_pair("command", &command)
            .append_pair("text", &request.text)
            .append_pair("api_app_id", &sim.app_id)
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", &hook_url)
            .append_pair("trigger_id", &trigger)
            .finish();
        (url, form, user, channel_id, trigger, hook_url)
    };
    let ack = deliver(&state, "command", &url, form).await;
    show_command_answer(
        &state,
        &ack,
        &user.id,
        &channel_id,
        request.command.as_deref().unwrap_or(COMMAND),
    );
    Json(json!({ "ack": ack, "triggerId": trigger, "responseUrl": hook_url, "channelId": channel_id })).into_response()
}

/// Shows the person what Slack shows after a command: the bot's immediate
/// answer, or Slack's error notice when the bot failed to acknowledge.
fn show_command_answer(state: &SimState, ack: &Ack, user: &str, channel: &str, command: &str) {
    let now = state.clock.now();
    let sim = &state.slack;
    let mut world = sim.lock();
    let notice =
        |error: &str| json!({ "text": format!("{command} failed with the error \"{error}\"") });
    let message = if ack.timed_out {
        Some(notice("operation_timeout"))
    } else if ack.status != Some(200) {
        Some(notice("dispatch_failed"))
    } else if ack.body.trim().is_empty() {
        None
    } else if ack
        .content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/json"))
    {
        serde_json::from_str::<Value>(&ack.body)
            .ok()
            .filter(Value::is_object)
            .or_else(|| Some(notice("invalid_response")))
    } else {
        Some(json!({ "text": ack.body }))
    };
    if let Some(message) = message
        && let Err(error) = post_response(sim, &mut world, channel, user, &message, now)
    {
        tracing::info!(error, "the bot's answer to a command could not be shown");
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ClickRequest {
    channel: String,
    ts: String,
    action_id: String,
    block_id: Option<String>,
}

/// The interactive element `action_id` (in block `block_id`, if given):
/// `(block_id, element)`.
fn find_element(
    blocks: &[Value],
    action_id: &str,
    block_id: Option<&str>,
) -> Option<(String, Value)> {
    blocks.iter().find_map(|block| {
        let id = block
            .get("block_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if block_id.is_some_and(|b| b != id) {
            return None;
        }
        let mut elements: Vec<&Value> = block
            .get("elements")
            .and_then(Value::as_array)
            .map(|e| e.iter().collect())
            .unwrap_or_default();
        elements.extend(block.get("accessory"));
        elements
            .into_iter()
            .find(|e| e.get("action_id").and_then(Value::as_str) == Some(action_id))
            .map(|e| (id.to_owned(), e.clone()))
    })
}

/// Anyone on loopback: persona `key` clicks a button on a message.
pub(super) async fn click(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let request: ClickRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let sim = &state.slack;
    let now = state.clock.now();
    let (url, payload, trigger, hook_url) = {
        let mut world = sim.lock();
        let user = match persona(&world, &key) {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
        let channel_id = match channel_for(&world, &user, &request.channel) {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        let Some(url) = world.bot.interactions.clone() else {
            return problem(
                StatusCode::CONFLICT,
                "the bot's interactivity URL is not set (POST /sim/slack/bot)",
            );
        };
        let Some(channel) = world.channels.get(&channel_id) else {
            return problem(StatusCode::NOT_FOUND, "no such channel");
        };
        let channel_name = if channel_id.starts_with('D') {
            "directmessage".to_owned()
        } else {
            channel.name.clone()
        };
        let (message, ephemeral) = match channel.messages.iter().find(|m| m.ts == request.ts) {
            Some(m) => (Some(m.clone()), None),
            None => match world
                .ephemerals
                .iter()
                .find(|e| e.channel == channel_id && e.user == user.id && e.ts == request.ts)
            {
                Some(e) => (None, Some(e.clone())),
                None => {
                    return problem(
                        StatusCode::NOT_FOUND,
                        format!("{key} sees no message {} in {channel_id}", request.ts),
                    );
                }
            },
        };
        let blocks = message
            .as_ref()
            .map(|m| &m.blocks)
            .or(ephemeral.as_ref().map(|e| &e.blocks))
            .cloned()
            .unwrap_or_default();
        let Some((block_id, element)) =
            find_element(&blocks, &request.action_id, request.block_id.as_deref())
        else {
            return problem(
                StatusCode::NOT_FOUND,
                format!(
                    "no element with action_id `{}` on that message",
                    request.action_id
                ),
            );
        };
        let is_ephemeral = ephemeral.is_some();
        let trigger = world.issue_trigger(&user.id, now);
        if !is_ephemeral {
            let clicked = (channel_id.clone(), request.ts.clone());
            world.note_click(&clicked, &user.id, arrived);
            if let Some(t) = world.triggers.get_mut(&trigger) {
                t.from_message = Some(clicked);
            }
        }
        let source = HookSource::Action {
            message_ts: request.ts.clone(),
            ephemeral: is_ephemeral,
        };
        let hook = world.issue_hook(&user.id, &channel_id, source, now);
        let hook_url = SlackSim::hook_url(&state.base_url, &hook);
        let mut action = json!({
            "type": element.get("type").cloned().unwrap_or(json!("button")),
            "action_id": request.action_id, "block_id": block_id, "action_ts": now_ts(),
        });
        for field in ["text", "value", "style", "confirm"] {
            if let Some(v) = element.get(field) {
                action[field] = v.clone();
            }
        }
        let mut payload = json!({
            "type": "block_actions", "user": user_json(sim, &user), "api_app_id": sim.app_id,
            "token": sim.verification_token(),
            "container": { "type": "message", "message_ts": request.ts, "channel_id": channel_id, "is_ephemeral": is_ephemeral },
            "trigger_id": trigger, "team": team_json(sim), "enterprise": null, "is_enterprise_install": false,
            "channel": { "id": channel_id, "name": channel_name }, "state": { "values": {} },
            "response_url": hook_url, "actions": [action],
        });
        // Slack leaves `message` out for ephemeral messages.
        if let Some(m) = message {
            payload["message"] = json!({
                "type": "message", "ts": m.ts, "text": m.text, "user": sim.bot_user_id, "bot_id": m.bot_id,
                "app_id": sim.app_id, "blocks": m.blocks, "team": sim.team_id,
            });
        }
        (url, payload, trigger, hook_url)
    };
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let ack = deliver(&state, "block_actions", &url, form).await;
    Json(json!({ "ack": ack, "triggerId": trigger, "responseUrl": hook_url })).into_response()
}
