//! A persona's Teams client: install the app, message the bot, click a
//! card button, read the 1:1 chat.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{CARD_CONTENT_TYPE, Problem, card, deliver, problem};
use crate::SimState;
use crate::teams::store::{ConversationKind, Install, UserView};
use crate::teams::{CHANNEL_ID, bot_id, personal_conversation_id, teams_user_id};

/// Who a persona is in Teams.
pub(super) struct Persona {
    pub(super) aad_id: String,
    name: String,
    pub(super) teams_id: String,
    app_id: String,
    app_name: String,
    tenant: String,
}

impl Persona {
    pub(super) fn lookup(state: &SimState, key: &str) -> Result<Self, Problem> {
        let world = state.world();
        let user = world
            .user_by_key(key)
            .ok_or_else(|| Problem(StatusCode::NOT_FOUND, format!("no persona `{key}`")))?;
        if !user.account_enabled {
            return Err(Problem(
                StatusCode::FORBIDDEN,
                format!("persona `{key}` is disabled"),
            ));
        }
        Ok(Self {
            aad_id: user.id.clone(),
            name: user.display_name.clone(),
            teams_id: teams_user_id(&world.app.client_id, &user.id),
            app_id: world.app.client_id.clone(),
            app_name: world.app.display_name.clone(),
            tenant: world.tenant_id.clone(),
        })
    }

    pub(super) fn conversation_id(&self) -> String {
        personal_conversation_id(&self.app_id, &self.aad_id)
    }

    fn account(&self) -> Value {
        json!({ "id": self.teams_id, "name": self.name, "aadObjectId": self.aad_id })
    }

    /// The envelope Teams puts around everything a person sends in their
    /// 1:1 chat (docs example `activity-message-personal`).
    pub(super) fn personal_activity(&self, state: &SimState, kind: &str, id: String) -> Value {
        let now = chrono::Utc::now();
        json!({
            "type": kind,
            "id": id,
            "timestamp": now.to_rfc3339(),
            "localTimestamp": now.to_rfc3339(),
            "serviceUrl": format!("{}/teams/", state.base_url),
            "channelId": CHANNEL_ID,
            "from": self.account(),
            "conversation": { "conversationType": "personal", "tenantId": self.tenant, "id": self.conversation_id() },
            "recipient": { "id": bot_id(&self.app_id), "name": self.app_name },
            "entities": [{ "locale": "en-US", "country": "US", "platform": "Web", "timezone": "Etc/UTC", "type": "clientInfo" }],
            "channelData": { "tenant": { "id": self.tenant } },
            "locale": "en-US",
        })
    }
}

/// Anyone on loopback: the persona installs the app (personal scope); the
/// bot gets a signed `conversationUpdate` adding it and the user.
pub(super) async fn install(State(state): State<SimState>, Path(key): Path<String>) -> Response {
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let bot = install_for(&state, &persona).await;
    Json(json!({ "conversationId": persona.conversation_id(), "teamsUserId": persona.teams_id, "bot": bot }))
        .into_response()
}

/// Installs the app for `persona` and tells the bot; returns its answer.
async fn install_for(state: &SimState, persona: &Persona) -> Value {
    {
        let mut store = state.teams.store();
        store
            .installs
            .insert(persona.aad_id.clone(), Install::default());
        store.personal_mut(&persona.conversation_id(), &persona.aad_id);
    }
    announce(state, persona).await
}

/// The signed `conversationUpdate` Teams sends the bot when its app is
/// installed for `persona` (bot and user added); returns the bot's answer.
pub(super) async fn announce(state: &SimState, persona: &Persona) -> Value {
    let mut activity = persona.personal_activity(
        state,
        "conversationUpdate",
        format!("f:{}", uuid::Uuid::new_v4()),
    );
    activity["membersAdded"] = json!([
        { "id": bot_id(&persona.app_id) },
        { "id": persona.teams_id, "aadObjectId": persona.aad_id },
    ]);
    deliver(state, &activity).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Block {
    #[serde(default = "yes")]
    blocked: bool,
}

fn yes() -> bool {
    true
}

/// Anyone on loopback: the persona blocks (or unblocks) the bot; the
/// connector then refuses writes to their chat with 403.
pub(super) async fn block(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let request: Block = if body.is_empty() {
        Block { blocked: true }
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    format!("expected {{\"blocked\": true}}: {e}"),
                );
            }
        }
    };
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let mut store = state.teams.store();
    let Some(install) = store.installs.get_mut(&persona.aad_id) else {
        return problem(
            StatusCode::CONFLICT,
            format!("`{key}` has not installed the app"),
        );
    };
    install.blocked = request.blocked;
    Json(json!({ "blocked": request.blocked })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Message {
    text: String,
}

/// Anyone on loopback: the persona types `text` in their chat with the bot.
pub(super) async fn message(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let request: Message = match serde_json::from_slice(&body) {
        Ok(m) => m,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"text\": \"…\"}}: {e}"),
            );
        }
    };
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    // Opening the bot's chat to write to it installs the app, as in Teams.
    let installed = state.teams.store().installs.get(&persona.aad_id).cloned();
    match installed {
        Some(i) if i.blocked => {
            return problem(StatusCode::CONFLICT, format!("`{key}` blocked the app"));
        }
        Some(_) => {}
        None => {
            install_for(&state, &persona).await;
        }
    }
    let activity = {
        let mut store = state.teams.store();
        let id = store.next_message_id();
        let mut activity = persona.personal_activity(&state, "message", id.clone());
        activity["textFormat"] = json!("plain");
        activity["text"] = json!(request.text);
        store
            .personal_mut(&persona.conversation_id(), &persona.aad_id)
            .push(id, false, activity.clone());
        activity
    };
    let bot = deliver(&state, &activity).await;
    Json(json!({ "activityId": activity["id"], "conversationId": persona.conversation_id(), "bot": bot }))
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Click {
    activity_id: String,
    /// Defaults to the persona's 1:1 chat; a channel thread id otherwise.
    conversation_id: Option<String>,
    verb: Option<String>,
    action_id: Option<String>,
    #[serde(default)]
    inputs: Map<String, Value>,
}

/// Anyone on loopback: the persona clicks an `Action.Execute` button on a
/// card they see; the bot gets a signed `adaptiveCard/action` invoke, and a
/// card in its answer replaces the card for this persona.
pub(super) async fn invoke(
    State(state): State<SimState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let click: Click = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return problem(StatusCode::BAD_REQUEST, format!("invalid click: {e}")),
    };
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let conversation_id = click
        .conversation_id
        .clone()
        .unwrap_or_else(|| persona.conversation_id());
    let shown = match clicked_card(&state, &persona, &key, &conversation_id, &click.activity_id) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let ClickedCard {
        card: card_json,
        holder,
        base_version,
        personal,
    } = shown;
    let activity = {
        let action = match card::find_action(
            &card_json,
            click.verb.as_deref(),
            click.action_id.as_deref(),
        ) {
            Ok(a) => a,
            Err(e) => return problem(StatusCode::NOT_FOUND, e),
        };
        let data = match card::gather(&card_json, action, &click.inputs) {
            Ok(d) => d,
            Err(e) => return problem(StatusCode::UNPROCESSABLE_ENTITY, e),
        };
        let mut activity =
            persona.personal_activity(&state, "invoke", format!("f:{}", uuid::Uuid::new_v4()));
        activity["name"] = json!("adaptiveCard/action");
        activity["replyToId"] = json!(click.activity_id);
        activity["value"] = json!({
            "action": { "type": "Action.Execute", "id": action.get("id").cloned().unwrap_or(json!("")),
                        "verb": action.get("verb").cloned().unwrap_or(Value::Null), "data": data },
            "trigger": "manual",
        });
        activity["channelData"]["source"] = json!({ "name": "message" });
        if !personal {
            activity["conversation"] = json!({ "isGroup": true, "conversationType": "channel",
                                               "tenantId": persona.tenant, "id": conversation_id });
        }
        activity
    };
    note_click(
        &state,
        &holder,
        &click.activity_id,
        &persona.aad_id,
        arrived,
    );
    let bot = deliver(&state, &activity).await;
    let replaced = bot["status"] == 200 && bot["body"]["type"] == CARD_CONTENT_TYPE;
    if replaced {
        let mut store = state.teams.store();
        if let Some(stored) = store
            .conversations
            .get_mut(&holder)
            .and_then(|c| c.activity_mut(&click.activity_id))
        {
            let view = UserView {
                card: bot["body"]["value"].clone(),
                base_version,
                at: state.clock.now(),
            };
            stored.user_views.insert(persona.aad_id.clone(), view);
        }
    }
    Json(json!({ "invoke": activity, "bot": bot, "cardReplaced": replaced })).into_response()
}

/// Anyone on loopback: the persona's 1:1 chat with the bot as they see it.
pub(super) async fn conversation(
    State(state): State<SimState>,
    Path(key): Path<String>,
) -> Response {
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let store = state.teams.store();
    match store.conversations.get(&persona.conversation_id()) {
        Some(c) => Json(c.view(Some(&persona.aad_id))).into_response(),
        None => Json(json!({ "conversationId": persona.conversation_id(), "activities": [] }))
            .into_response(),
    }
}

/// The card a persona clicks, as they see it.
pub(super) struct ClickedCard {
    pub card: Value,
    /// Where the activity is stored (the channel for a thread's root).
    pub holder: String,
    pub base_version: usize,
    pub personal: bool,
}

/// Notes on the clicked activity that `aad_id`'s click arrived at `at`
/// (for the bench's latencies; the bot never sees it).
pub(super) fn note_click(
    state: &SimState,
    holder: &str,
    activity_id: &str,
    aad_id: &str,
    at: Instant,
) {
    let mut store = state.teams.store();
    if let Some(stored) = store
        .conversations
        .get_mut(holder)
        .and_then(|c| c.activity_mut(activity_id))
    {
        stored.moments.note_click(aad_id, at);
    }
}

pub(super) fn clicked_card(
    state: &SimState,
    persona: &Persona,
    key: &str,
    conversation_id: &str,
    activity_id: &str,
) -> Result<ClickedCard, Problem> {
    let mut store = state.teams.store();
    let Some(conversation) = store.conversation_mut(conversation_id).cloned() else {
        return Err(Problem(
            StatusCode::NOT_FOUND,
            format!("no conversation {conversation_id}"),
        ));
    };
    if matches!(&conversation.kind, ConversationKind::Personal { user } if *user != persona.aad_id)
    {
        return Err(Problem(
            StatusCode::FORBIDDEN,
            format!("`{key}` cannot see {conversation_id}"),
        ));
    }
    let holder = match &conversation.kind {
        ConversationKind::Thread { channel_id, root } if root == activity_id => channel_id.clone(),
        _ => conversation_id.to_owned(),
    };
    let Some(stored) = store
        .conversations
        .get(&holder)
        .and_then(|c| c.activity(activity_id))
    else {
        return Err(Problem(
            StatusCode::NOT_FOUND,
            format!("no activity {activity_id} there"),
        ));
    };
    let shown = crate::teams::store::render(stored, Some(&persona.aad_id));
    let Some(card) = shown["attachments"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["contentType"] == CARD_CONTENT_TYPE))
        .map(|a| a["content"].clone())
    else {
        return Err(Problem(
            StatusCode::NOT_FOUND,
            "that activity shows no Adaptive Card".into(),
        ));
    };
    Ok(ClickedCard {
        card,
        holder,
        base_version: stored.versions.len(),
        personal: matches!(conversation.kind, ConversationKind::Personal { .. }),
    })
}
