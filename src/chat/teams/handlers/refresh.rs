//! `refresh` invokes: Teams runs an approval card's `refresh` action
//! (`trigger: "automatic"`, when a listed person opens the chat and the
//! card they have is over a minute old; or `"manual"`, "Refresh card")
//! and shows the card in the answer to that person only. The answer is
//! the card's current state for them, read from Graph: a stale card (a
//! crash between a decision and the outbox's rewrite) mends itself. A
//! refresh never changes a request, relays a decision or queues a message.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::click::{answer_card, invoke_error};
use super::{TeamsBot, stranger};
use crate::chat::port::Message;
use crate::chat::teams::activity::Activity;
use crate::chat::teams::adapter::ConversationRef;
use crate::chat::teams::cards;
use stagegate_domain::ids::{ObjectId, RequestId, StageId};

/// The verb of the approval card's `refresh` action.
pub(super) const VERB: &str = "refresh";

/// The Bot Connector may call (the activity authenticated as every
/// other), for a person of this tenant the directory knows; anyone else
/// is told why, with no buttons.
pub(super) async fn on_refresh(
    bot: &Arc<TeamsBot>,
    activity: &Activity,
    data: &Value,
    here: Option<&ConversationRef>,
    trigger: &str,
) -> Response {
    let field = |k: &str| data.get(k).and_then(Value::as_str);
    let Some(request) = field("request").and_then(|r| r.parse::<RequestId>().ok()) else {
        return invoke_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the card's data names no valid request",
        );
    };
    let Some(stage) = field("stage").and_then(|s| s.parse::<StageId>().ok()) else {
        return invoke_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the card's data names no valid stage",
        );
    };
    let who = match stranger::identify(bot, activity).await {
        Ok(who) => who,
        Err(stranger) => {
            stranger.log();
            return answer_card(cards::render(&Message::Text {
                text: stranger.to_string(),
            }));
        }
    };
    stranger::learn_member(bot, &who, activity);
    let Ok(viewer) = who.user.parse::<ObjectId>() else {
        // `identify` admits object ids only; kept total all the same.
        return answer_card(cards::render(&Message::Text {
            text: "I can't tell who you are.".into(),
        }));
    };
    let message = bot
        .engine
        .approval_card_now(&viewer, &request, &stage)
        .await;
    tracing::debug!(%request, trigger, live = matches!(message, Message::ApprovalRequest { .. }), "approval card refreshed");
    let card = match here {
        Some(here) => bot.port.render_known(&here.conversation_id, &message),
        None => cards::render(&message),
    };
    answer_card(card)
}
