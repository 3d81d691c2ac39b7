//! Card clicks: `adaptiveCard/action` invokes (`Action.Execute`) answered
//! with the invoke response, and the `Action.Submit` fallback of older
//! clients, which arrives as a message whose `value` holds the data.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::in_flight::ChangedClick;
use super::{ERROR_TYPE, TeamsBot, stranger};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{CardAction, ChatPort, Message, Recipient};
use crate::chat::teams::activity::{ADAPTIVE_CARD, Activity};
use crate::chat::teams::adapter::{ConversationRef, PostedRef};
use crate::chat::teams::cards;
use crate::engine::Acted;
use stagegate_domain::ids::{RequestId, StageId};

pub(super) fn invoke_reply(status: StatusCode, kind: &str, value: Value) -> Response {
    let body = json!({ "statusCode": status.as_u16(), "type": kind, "value": value });
    (status, Json(body)).into_response()
}

pub(super) fn invoke_error(status: StatusCode, code: &str, message: &str) -> Response {
    invoke_reply(
        status,
        ERROR_TYPE,
        json!({ "code": code, "message": message }),
    )
}

/// The card action a click names, from its verb and data (ids only).
fn card_action(verb: &str, data: &Value) -> Result<CardAction, &'static str> {
    let field = |k: &str| data.get(k).and_then(Value::as_str);
    let request: RequestId = field("request")
        .and_then(|r| r.parse().ok())
        .ok_or("the card's data names no valid request")?;
    let stage = || -> Result<StageId, &'static str> {
        field("stage")
            .and_then(|s| s.parse().ok())
            .ok_or("the card's data names no valid stage")
    };
    Ok(match verb {
        "approve" => CardAction::Approve {
            request,
            stage: stage()?,
        },
        "deny" => CardAction::Deny {
            request,
            stage: stage()?,
        },
        "activate" => CardAction::Activate {
            request,
            duration: field("duration")
                .ok_or("choose a duration")?
                .trim()
                .to_owned(),
        },
        "extend" => CardAction::Extend { request },
        _ => return Err("unknown verb"),
    })
}

pub(super) async fn on_invoke(
    bot: &Arc<TeamsBot>,
    activity: Activity,
    here: Option<ConversationRef>,
) -> Response {
    if activity.name.as_deref() != Some("adaptiveCard/action") {
        // botbuilder answers invokes nobody handles with 501.
        return StatusCode::NOT_IMPLEMENTED.into_response();
    }
    let Some(value) = activity.adaptive_card_action() else {
        return invoke_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "not an adaptiveCard/action value",
        );
    };
    if value.action.kind != "Action.Execute" {
        return invoke_error(
            StatusCode::BAD_REQUEST,
            "NotSupported",
            "only Action.Execute is supported",
        );
    }
    let verb = value.action.verb.as_deref().unwrap_or_default();
    if verb == super::refresh::VERB {
        let trigger = value.trigger.as_deref().unwrap_or("manual");
        return super::refresh::on_refresh(
            bot,
            &activity,
            &value.action.data,
            here.as_ref(),
            trigger,
        )
        .await;
    }
    let clicked = activity.reply_to_id.as_deref();
    let (action, justification) = match parse_click(verb, &value.action.data) {
        Ok(click) => click,
        Err(ClickError::Malformed(why)) => {
            tracing::warn!(verb, reason = why, "malformed Teams card click refused");
            return invoke_error(StatusCode::BAD_REQUEST, "BadRequest", why);
        }
        Err(ClickError::Refused(why)) => {
            return answer_card(clicked_with_notice(bot, here.as_ref(), clicked, why));
        }
    };
    let who = match stranger::identify(bot, &activity).await {
        Ok(who) => who,
        Err(stranger) => {
            stranger.log();
            return answer_card(cards::render(&Message::Text {
                text: stranger.to_string(),
            }));
        }
    };
    stranger::learn_member(bot, &who, &activity);
    let here_too = here.clone();
    let mut done = dispatch(bot, who, action, justification, here, &activity);
    // The answer waits for the engine to record the decision, so a click
    // the bot then loses (a crash, a restart) is never shown as taken.
    let note = match tokio::time::timeout(DECISION_ANSWER_WAIT, &mut done).await {
        Ok(Ok(note)) => Some(note),
        _ => {
            // Closed, so the click's outcome knows whether this answer
            // carried it (one that came just too late still does).
            done.close();
            done.try_recv().ok()
        }
    };
    let card = match note {
        // The request changed: the outcome, no buttons (the cards
        // everyone sees follow through the outbox).
        Some((note, true)) => cards::render(&Message::Text { text: note }),
        // A refusal for the clicker alone: the card as it was, buttons
        // and inputs kept, so they can correct it.
        Some((note, false)) => clicked_with_notice(bot, here_too.as_ref(), clicked, &note),
        None => still_recording(bot, here_too.as_ref(), clicked),
    };
    answer_card(card)
}

/// A well-formed click's answer: HTTP 200 and a card (refusals included:
/// a client shows a 4xx as "Request failed", not the reason).
pub(super) fn answer_card(card: Value) -> Response {
    invoke_reply(StatusCode::OK, ADAPTIVE_CARD, card)
}

/// The clicked card as last sent, with `notice` on top; just the notice
/// when the bot does not have the card (any more).
fn clicked_with_notice(
    bot: &TeamsBot,
    here: Option<&ConversationRef>,
    card: Option<&str>,
    notice: &str,
) -> Value {
    let sent = here.zip(card).and_then(|(c, id)| {
        let message = bot.port.sent_message(&c.conversation_id, id)?;
        Some(bot.port.render_known(&c.conversation_id, &message))
    });
    match sent {
        Some(sent) => cards::with_notice(sent, notice),
        None => cards::render(&Message::Text {
            text: notice.to_owned(),
        }),
    }
}

/// How long a click's answer waits for the decision to be recorded (Teams
/// gives an invoke 15 s; Graph is slow under load).
const DECISION_ANSWER_WAIT: Duration = Duration::from_secs(5);

/// The answer to a click not recorded in time: the card as last sent
/// (buttons and all, so deciding again stays possible if the bot never
/// records it) under a notice saying so.
fn still_recording(bot: &TeamsBot, here: Option<&ConversationRef>, card: Option<&str>) -> Value {
    let sent = here.zip(card).and_then(|(c, id)| {
        let message = bot.port.sent_message(&c.conversation_id, id)?;
        Some(bot.port.render_known(&c.conversation_id, &message))
    });
    let notice = "Still recording your decision… If this card has not changed within a minute, decide again.";
    match sent {
        Some(sent) => cards::with_notice(sent, notice),
        None => cards::recording(),
    }
}

/// Why a click's data cannot be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickError {
    /// Not data one of our cards sends (unknown verb, missing ids):
    /// answered with a 400.
    Malformed(&'static str),
    /// Something the clicker must correct (a blank justification):
    /// answered with the card and the reason on top.
    Refused(&'static str),
}

/// The action and trimmed justification a click names. Clients accept
/// whitespace for `isRequired` (docs/architecture.md, "Teams activities and
/// cards"), so a decision's justification is checked here.
pub fn parse_click(verb: &str, data: &Value) -> Result<(CardAction, Option<String>), ClickError> {
    let action = card_action(verb, data).map_err(ClickError::Malformed)?;
    let justification = data
        .get("justification")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_owned);
    if matches!(action, CardAction::Approve { .. } | CardAction::Deny { .. })
        && justification.is_none()
    {
        return Err(ClickError::Refused(
            "A justification is required: say why you approve or deny, then press the button again.",
        ));
    }
    Ok((action, justification))
}

/// Hands a click to the engine in the background; the clicked card (the
/// activity the click replies to) is updated through the outbox when the
/// request changed. The receiver gets the click's outcome (its note, and
/// whether the request changed) once the engine has acted on it.
fn dispatch(
    bot: &Arc<TeamsBot>,
    who: ChatIdentity,
    action: CardAction,
    justification: Option<String>,
    here: Option<ConversationRef>,
    activity: &Activity,
) -> tokio::sync::oneshot::Receiver<(String, bool)> {
    let card_at = match (here, activity.reply_to_id.clone()) {
        (Some(conversation), Some(activity_id)) => Some(PostedRef {
            conversation,
            activity_id,
        }),
        _ => None,
    };
    let request = match &action {
        CardAction::Approve { request, .. }
        | CardAction::Deny { request, .. }
        | CardAction::Activate { request, .. }
        | CardAction::Extend { request } => *request,
    };
    if let Some(at) = &card_at {
        bot.click_started(&card_key(at));
    }
    let me = bot.clone();
    let (acted, done) = tokio::sync::oneshot::channel();
    bot.spawn(async move {
        let result = me.engine.act(&who, &action, justification.as_deref()).await;
        let note = click_note(result.message());
        // Refused when the click's answer went out without the note.
        let answered = acted.send((note, result.changed())).is_ok();
        me.finish_click(&who, card_at, request, result, answered)
            .await;
    });
    done
}

/// What a click's card says about its outcome.
fn click_note(result: &Message) -> String {
    if let Message::SignInPrompt { .. } = result {
        "Sign in with the link I just sent you; your click completes then.".to_owned()
    } else {
        result.text()
    }
}

/// The data of an `Action.Submit` click, if this message is one: older
/// clients send the fallback of our `Action.Execute` buttons as a message
/// with no text whose `value` holds the card's data and inputs.
pub fn submitted(activity: &Activity) -> Option<&Value> {
    let text_empty = activity.text.as_deref().is_none_or(|t| t.trim().is_empty());
    let value = activity.value.as_ref()?;
    (text_empty && value.get("verb").is_some_and(Value::is_string)).then_some(value)
}

/// An `Action.Submit` click from `who` (authenticated, personal chat).
/// There is no invoke response to carry a refusal, so it is sent as a
/// message to the clicker alone.
pub(super) async fn on_submit(
    bot: &Arc<TeamsBot>,
    who: ChatIdentity,
    value: &Value,
    here: Option<ConversationRef>,
    activity: &Activity,
) {
    let verb = value
        .get("verb")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match parse_click(verb, value) {
        Ok((action, justification)) => {
            dispatch(bot, who, action, justification, here, activity);
        }
        Err(ClickError::Malformed(why) | ClickError::Refused(why)) => {
            bot.tell(&who, why).await;
        }
    }
}

/// Which card a click is on.
fn card_key(at: &PostedRef) -> String {
    format!("{}\n{}", at.conversation.conversation_id, at.activity_id)
}

impl TeamsBot {
    /// A message to `who` alone, in their personal chat.
    async fn tell(&self, who: &ChatIdentity, text: &str) {
        let to = Recipient::Person {
            identity: who.clone(),
        };
        let message = Message::Text {
            text: text.to_owned(),
        };
        if let Err(e) = self.port.post(&to, &message).await {
            tracing::warn!(error = %e, "cannot tell a Teams clicker why their click was refused");
        }
    }

    /// After a click: a sign-in prompt goes to the person, a refusal their
    /// click's answer did not carry (an `Action.Submit` click, or an
    /// answer that went out first) too. Only a click that changed the
    /// request hands the clicked card to the engine's outbox to show the
    /// outcome on top (the outbox is the card's only writer): a refusal is
    /// for the clicker alone, and the card stays as everyone else sees it.
    /// The last of the clicks in progress on a card hands it over, so the
    /// outcome shown follows every decision they made.
    async fn finish_click(
        &self,
        who: &ChatIdentity,
        at: Option<PostedRef>,
        request: RequestId,
        result: Acted,
        answered: bool,
    ) {
        let note = click_note(result.message());
        let changed = result.changed();
        if let Message::SignInPrompt { .. } = result.message() {
            let to = Recipient::Person {
                identity: who.clone(),
            };
            if let Err(e) = self.port.post(&to, result.message()).await {
                tracing::warn!(error = %e, "cannot send a sign-in prompt");
                self.engine.sign_in_undelivered(result.message()).await;
            }
        } else if !changed && !answered {
            self.tell(who, &note).await;
        }
        let Some(at) = at else { return };
        let mine = changed.then(|| ChangedClick {
            who: who.clone(),
            request,
            note,
            answered,
        });
        let Some(shown) = self.click_done(&card_key(&at), mine) else {
            return;
        };
        if let Err(e) = self
            .engine
            .queue_click_outcome(
                &shown.who,
                &shown.request,
                &at.encode(),
                shown.note,
                shown.answered,
            )
            .await
        {
            tracing::warn!(error = %e, "cannot queue a click's outcome for its card");
        }
    }
}
