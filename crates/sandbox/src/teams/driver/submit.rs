//! `POST /sim/teams/personas/{key}/submit`: an older Teams client that
//! shows our `Action.Execute` buttons' `Action.Submit` fallback. Such a
//! click is not an invoke: the bot gets a signed `message` activity with
//! no text whose `value` holds the fallback's `data` merged with the card's
//! inputs (docs/architecture.md, "Teams activities and cards"), replying to
//! the card's activity.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::persona::{ClickedCard, Persona, clicked_card, note_click};
use super::{card, deliver, problem};
use crate::SimState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Submit {
    activity_id: String,
    /// The verb of the `Action.Execute` whose fallback is pressed.
    verb: String,
    #[serde(default)]
    inputs: Map<String, Value>,
}

/// Anyone on loopback: the persona presses the `Action.Submit` fallback of
/// the button with `verb` on a card in their 1:1 chat.
pub(super) async fn submit(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let submit: Submit = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid submit: {e}")),
    };
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let conversation_id = persona.conversation_id();
    let ClickedCard {
        card: shown,
        holder,
        ..
    } = match clicked_card(
        &state,
        &persona,
        &key,
        &conversation_id,
        &submit.activity_id,
    ) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let execute = match card::find_action(&shown, Some(&submit.verb), None) {
        Ok(a) => a,
        Err(e) => return problem(StatusCode::NOT_FOUND, e),
    };
    let Some(fallback) = execute
        .get("fallback")
        .filter(|f| f["type"] == "Action.Submit")
    else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("the `{}` button has no Action.Submit fallback", submit.verb),
        );
    };
    let value = match card::gather(&shown, fallback, &submit.inputs) {
        Ok(v) => v,
        Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    let activity = {
        let mut store = state.teams.store();
        let id = store.next_message_id();
        let mut activity = persona.personal_activity(&state, "message", id.clone());
        activity["replyToId"] = json!(submit.activity_id);
        activity["value"] = value;
        store
            .personal_mut(&conversation_id, &persona.aad_id)
            .push(id, false, activity.clone());
        activity
    };
    note_click(
        &state,
        &holder,
        &submit.activity_id,
        &persona.aad_id,
        arrived,
    );
    let bot = deliver(&state, &activity).await;
    Json(json!({ "activity": activity, "bot": bot })).into_response()
}
