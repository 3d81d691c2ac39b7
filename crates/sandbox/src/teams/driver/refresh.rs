//! `POST /sim/teams/personas/{key}/open`: the persona opens their 1:1 chat
//! with the bot, and their Teams client runs the `refresh` of the cards it
//! shows, as Teams does (docs/sandbox.md, "Card refresh"): a card whose
//! `refresh.userIds` lists the persona's Teams id (or omits `userIds` in a
//! chat of at most 60 members; `[]` means never automatically), and whose
//! card from the last invoke for this persona is over a minute old on the
//! emulated clock (or from an older version of the base card), gets a
//! signed `adaptiveCard/action` invoke with `trigger: "automatic"`; a card
//! in the bot's answer is shown to this persona only (a user-specific view
//! over the base card, which stays as it is for everyone else).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Json, Response};
use chrono::Duration;
use serde_json::{Value, json};

use super::persona::Persona;
use super::{CARD_CONTENT_TYPE, deliver};
use crate::SimState;
use crate::teams::MAX_REFRESH_USERS;
use crate::teams::store::{UserView, render};

/// "The refresh triggers only if the card from the last invoke is older
/// than a minute."
fn min_age() -> Duration {
    Duration::minutes(1)
}

/// A card's refresh that is due for the viewer.
struct Due {
    activity_id: String,
    base_version: usize,
    action: Value,
}

/// Whether `card`'s refresh runs automatically for `teams_id` in a chat of
/// `members` people; the refresh action when it does.
fn runs_for(card: &Value, teams_id: &str, members: usize) -> Option<Value> {
    let refresh = card.get("refresh")?;
    let action = refresh.get("action")?;
    if action.get("type").and_then(Value::as_str) != Some("Action.Execute") {
        return None;
    }
    let listed = match refresh.get("userIds") {
        None | Some(Value::Null) => members <= MAX_REFRESH_USERS,
        Some(Value::Array(ids)) => ids.iter().any(|id| id.as_str() == Some(teams_id)),
        Some(_) => false,
    };
    listed.then(|| action.clone())
}

/// Anyone on loopback: the persona opens their chat; returns the refreshes
/// run (`activityId`, the invoke and the bot's answer) and the cards left
/// as they were (`skipped`, with why).
pub(super) async fn open(State(state): State<SimState>, Path(key): Path<String>) -> Response {
    let persona = match Persona::lookup(&state, &key) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let now = state.clock.now();
    let mut due = Vec::new();
    let mut skipped = Vec::new();
    {
        let store = state.teams.store();
        let activities = store
            .conversations
            .get(&persona.conversation_id())
            .map(|c| c.activities.as_slice())
            .unwrap_or_default();
        for stored in activities.iter().filter(|a| a.from_bot) {
            let shown = render(stored, Some(&persona.aad_id));
            let Some(card) = shown["attachments"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["contentType"] == CARD_CONTENT_TYPE))
                .map(|a| &a["content"])
            else {
                continue;
            };
            // A personal chat: the persona (the bot is not counted).
            let Some(action) = runs_for(card, &persona.teams_id, 1) else {
                continue;
            };
            let base_version = stored.versions.len();
            let fresh = stored
                .user_views
                .get(&persona.aad_id)
                .filter(|v| v.base_version == base_version && now - v.at < min_age());
            if fresh.is_some() {
                skipped.push(
                    json!({ "activityId": stored.id, "why": "refreshed less than a minute ago" }),
                );
                continue;
            }
            due.push(Due {
                activity_id: stored.id.clone(),
                base_version,
                action,
            });
        }
    }
    let mut refreshed = Vec::new();
    for Due {
        activity_id,
        base_version,
        action,
    } in due
    {
        let mut activity =
            persona.personal_activity(&state, "invoke", format!("f:{}", uuid::Uuid::new_v4()));
        activity["name"] = json!("adaptiveCard/action");
        activity["replyToId"] = json!(activity_id);
        activity["value"] = json!({
            "action": { "type": "Action.Execute", "id": action.get("id").cloned().unwrap_or(json!("")),
                        "verb": action.get("verb").cloned().unwrap_or(Value::Null),
                        "data": action.get("data").cloned().unwrap_or(json!({})) },
            "trigger": "automatic",
        });
        activity["channelData"]["source"] = json!({ "name": "message" });
        let bot = deliver(&state, &activity).await;
        let replaced = bot["status"] == 200 && bot["body"]["type"] == CARD_CONTENT_TYPE;
        if replaced {
            let mut store = state.teams.store();
            if let Some(stored) = store
                .conversations
                .get_mut(&persona.conversation_id())
                .and_then(|c| c.activity_mut(&activity_id))
            {
                stored.user_views.insert(
                    persona.aad_id.clone(),
                    UserView {
                        card: bot["body"]["value"].clone(),
                        base_version,
                        at: state.clock.now(),
                    },
                );
            }
        }
        refreshed.push(json!({ "activityId": activity_id, "invoke": activity, "bot": bot, "cardReplaced": replaced }));
    }
    Json(json!({ "conversationId": persona.conversation_id(), "refreshed": refreshed, "skipped": skipped }))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_runs_for_listed_users_or_small_chats_when_none_are_listed() {
        let action = json!({ "type": "Action.Execute", "verb": "refresh" });
        let card = |refresh: Value| json!({ "type": "AdaptiveCard", "refresh": refresh });
        let listed = card(json!({ "action": action, "userIds": ["29:a"] }));
        assert!(runs_for(&listed, "29:a", 1).is_some());
        assert!(runs_for(&listed, "29:b", 1).is_none());
        let nobody = card(json!({ "action": action, "userIds": [] }));
        assert!(runs_for(&nobody, "29:a", 1).is_none());
        let everyone = card(json!({ "action": action }));
        assert!(runs_for(&everyone, "29:a", 60).is_some());
        assert!(runs_for(&everyone, "29:a", 61).is_none());
        assert!(runs_for(&json!({ "type": "AdaptiveCard" }), "29:a", 1).is_none());
    }
}
