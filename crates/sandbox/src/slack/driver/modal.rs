//! The driver's modal submission: `view_submission` to the bot, and the
//! bot's `response_action` applied to the person's modal stack as Slack does.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::interact::{team_json, user_json};
use super::{parse_body, persona, problem};
use crate::SimState;
use crate::slack::api::views::{new_hash, render};
use crate::slack::deliver::{Ack, deliver};
use crate::slack::state::{OpenView, random_id};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SubmitRequest {
    #[serde(default)]
    values: Map<String, Value>,
    view_id: Option<String>,
    #[serde(default)]
    force: bool,
}

/// `state.values` for the view's input blocks, checked as Slack's client
/// checks them (required, min/max length) unless `force`.
fn input_values(view: &Value, given: &Map<String, Value>, force: bool) -> Result<Value, String> {
    let blocks = view
        .get("blocks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let inputs: Vec<&Value> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("input"))
        .collect();
    for block_id in given.keys() {
        if !inputs
            .iter()
            .any(|b| b.get("block_id").and_then(Value::as_str) == Some(block_id))
        {
            return Err(format!("the modal has no input block `{block_id}`"));
        }
    }
    let mut values = Map::new();
    for block in inputs {
        let block_id = block
            .get("block_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let element = block.get("element").cloned().unwrap_or(Value::Null);
        let action_id = element
            .get("action_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = given
            .get(block_id)
            .and_then(|b| b.get(action_id))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty());
        if !force {
            let optional = block
                .get("optional")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let length = value.map(|v| v.chars().count() as u64).unwrap_or(0);
            if value.is_none() && !optional {
                return Err(format!("input `{block_id}` is required"));
            }
            let min = element
                .get("min_length")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let max = element
                .get("max_length")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            if value.is_some() && (length < min || length > max) {
                return Err(format!(
                    "input `{block_id}` must be {min} to {max} characters"
                ));
            }
        }
        let kind = element
            .get("type")
            .cloned()
            .unwrap_or(json!("plain_text_input"));
        values.insert(
            block_id.to_owned(),
            json!({ action_id: { "type": kind, "value": value } }),
        );
    }
    Ok(Value::Object(values))
}

/// Anyone on loopback: persona `key` presses Submit on their top modal.
pub(super) async fn submit(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let request: SubmitRequest = match parse_body(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let sim = &state.slack;
    let now = state.clock.now();
    let (url, payload, user_id, view_id) = {
        let mut world = sim.lock();
        let user = match persona(&world, &key) {
            Ok(u) => u,
            Err(e) => return e.into_response(),
        };
        let top = world
            .view_stacks
            .get(&user.id)
            .and_then(|s| s.last())
            .cloned();
        let Some(view_id) = top.filter(|t| request.view_id.as_ref().is_none_or(|v| v == t)) else {
            return problem(
                StatusCode::NOT_FOUND,
                format!("{key} has no such modal open"),
            );
        };
        let Some(url) = world.bot.interactions.clone() else {
            return problem(
                StatusCode::CONFLICT,
                "the bot's interactivity URL is not set (POST /sim/slack/bot)",
            );
        };
        let Some(open) = world.views.get(&view_id) else {
            return problem(StatusCode::NOT_FOUND, "the modal is gone");
        };
        let mut view = open.view.clone();
        let from_message = open.from_message.clone();
        match input_values(&view, &request.values, request.force) {
            Ok(values) => view["state"] = json!({ "values": values }),
            Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e),
        }
        if let Some(message) = &from_message {
            world.note_click(message, &user.id, arrived);
        }
        let trigger = world.issue_trigger(&user.id, now);
        let payload = json!({
            "type": "view_submission", "team": team_json(sim), "user": user_json(sim, &user),
            "api_app_id": sim.app_id, "token": sim.verification_token(), "trigger_id": trigger,
            "view": view, "response_urls": [], "is_enterprise_install": false, "enterprise": null,
        });
        (url, payload, user.id, view_id)
    };
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish();
    let ack = deliver(&state, "view_submission", &url, form).await;
    let (action, errors) = match apply_view_response(&state, &ack, &user_id, &view_id) {
        Ok(outcome) => outcome,
        Err(detail) => (Some("invalid".to_owned()), Some(json!({ "error": detail }))),
    };
    let world = sim.lock();
    let top = world
        .view_stacks
        .get(&user_id)
        .and_then(|s| s.last())
        .and_then(|id| world.views.get(id))
        .map(|v| v.view.clone());
    Json(json!({ "ack": ack, "responseAction": action, "errors": errors, "view": top }))
        .into_response()
}

/// Applies the bot's answer to a submission as Slack does: empty closes the
/// modal, `errors` keeps it open, `update`/`push`/`clear` change the stack.
fn apply_view_response(
    state: &SimState,
    ack: &Ack,
    user: &str,
    view_id: &str,
) -> Result<(Option<String>, Option<Value>), String> {
    if !ack.acknowledged() {
        // Slack keeps the modal open and shows a connection error in it.
        return Err(ack
            .error
            .clone()
            .unwrap_or_else(|| format!("HTTP {:?}", ack.status)));
    }
    let mut world = state.slack.lock();
    // A pushed modal belongs to the same message as the one beneath it.
    let from_message = world
        .views
        .get(view_id)
        .and_then(|v| v.from_message.clone());
    let stack = world.view_stacks.entry(user.to_owned()).or_default();
    if ack.body.trim().is_empty() {
        stack.retain(|v| v != view_id);
        if let Some(v) = world.views.get_mut(view_id) {
            v.open = false;
        }
        return Ok((None, None));
    }
    let answer: Value =
        serde_json::from_str(&ack.body).map_err(|_| "the bot's answer is not JSON".to_owned())?;
    let action = answer
        .get("response_action")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match action.as_str() {
        "errors" => Ok((Some(action), answer.get("errors").cloned())),
        "clear" => {
            for id in std::mem::take(stack) {
                if let Some(v) = world.views.get_mut(&id) {
                    v.open = false;
                }
            }
            Ok((Some(action), None))
        }
        "update" | "push" => {
            let new_view = answer.get("view").cloned().unwrap_or(Value::Null);
            crate::slack::blocks::validate_view(&new_view).map_err(|p| p.join("; "))?;
            let hash = new_hash(state);
            let root = stack.first().cloned().unwrap_or_else(|| view_id.to_owned());
            if action == "update" {
                let rendered = render(state, view_id, &new_view, &hash, &root, None);
                if let Some(v) = world.views.get_mut(view_id) {
                    v.view = rendered;
                    v.hash = hash;
                }
            } else {
                let id = random_id('V');
                stack.push(id.clone());
                let rendered = render(state, &id, &new_view, &hash, &root, Some(view_id));
                let external_id = new_view
                    .get("external_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                world.views.insert(
                    id.clone(),
                    OpenView {
                        id,
                        user: user.to_owned(),
                        view: rendered,
                        hash,
                        external_id,
                        open: true,
                        from_message,
                    },
                );
            }
            Ok((Some(action), None))
        }
        other => Err(format!("unknown response_action `{other}`")),
    }
}
