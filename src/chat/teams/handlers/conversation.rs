//! Messages in a personal chat (commands, and `Action.Submit` clicks of
//! older clients) and `conversationUpdate` (where a person or channel is
//! reached).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::click::{on_submit, submitted};
use super::{COMMAND_BUDGET, TeamsBot, is_personal, stranger};
use crate::chat::port::{ChatPort, Recipient};
use crate::chat::teams::activity::Activity;
use crate::chat::teams::adapter::ConversationRef;

pub(super) async fn on_message(
    bot: &Arc<TeamsBot>,
    activity: Activity,
    here: Option<ConversationRef>,
) -> Response {
    if !is_personal(&activity) {
        // Commands carry identities and tickets: personal chat only.
        return StatusCode::OK.into_response();
    }
    let who = match stranger::identify(bot, &activity).await {
        Ok(who) => who,
        Err(why) => {
            // Well-formed and authenticated: answered 200, told why.
            stranger::answer(bot, &why, here.as_ref()).await;
            return StatusCode::OK.into_response();
        }
    };
    if let Some(here) = &here {
        bot.port.remember_person(&who.user, here.clone()).await;
    }
    stranger::learn_member(bot, &who, &activity);
    if let Some(value) = submitted(&activity) {
        let value = value.clone();
        on_submit(bot, who, &value, here, &activity).await;
        return StatusCode::OK.into_response();
    }
    let text = activity.text.clone().unwrap_or_default();
    let me = bot.clone();
    let work = bot.spawn(async move {
        let reply = me.engine.command(&who, &text).await;
        let to = Recipient::Person { identity: who };
        if let Err(e) = me.port.post(&to, &reply).await {
            tracing::warn!(error = %e, "cannot answer a Teams command");
        }
    });
    // Answer within Teams' limit even when Graph is slow; the reply is
    // sent whenever the command finishes.
    let _ = tokio::time::timeout(COMMAND_BUDGET, work).await;
    StatusCode::OK.into_response()
}

pub(super) async fn on_update(
    bot: &TeamsBot,
    activity: &Activity,
    here: Option<ConversationRef>,
) -> Response {
    let bot_ids = [
        activity.recipient.as_ref().map(|r| r.id.clone()),
        Some(format!("28:{}", bot.authenticator.settings().app_id)),
    ];
    let bot_added = activity
        .members_added
        .iter()
        .any(|m| bot_ids.iter().flatten().any(|b| *b == m.id));
    if !bot_added {
        return StatusCode::OK.into_response();
    }
    let Some(here) = here else {
        return StatusCode::OK.into_response();
    };
    if is_personal(activity) {
        match stranger::identify(bot, activity).await {
            Ok(who) => {
                bot.port.remember_person(&who.user, here).await;
                stranger::learn_member(bot, &who, activity);
            }
            Err(why) => why.log(),
        }
    } else if let Some(data) = &activity.channel_data {
        // Added to a team: the channel picked at install, else General.
        let channel = data
            .settings
            .as_ref()
            .and_then(|s| s.pointer("/selectedChannel/id"))
            .and_then(Value::as_str)
            .map_or(here.conversation_id.clone(), str::to_owned);
        if data.team.is_some() {
            bot.port
                .remember_channel(ConversationRef {
                    service_url: here.service_url,
                    conversation_id: channel,
                })
                .await;
        }
    }
    StatusCode::OK.into_response()
}
