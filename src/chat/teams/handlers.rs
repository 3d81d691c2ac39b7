//! `POST /api/teams/messages`: the bot's messaging endpoint. Every request
//! is authenticated ([`TeamsAuthenticator`]) before its body is used, then
//! handed to the engine: `message` runs a chat command, `invoke`
//! `adaptiveCard/action` a card click, `conversationUpdate` stores where a
//! person or channel is reached. The clicker is the authenticated
//! `from.aadObjectId`, never anything in the card's data.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::activity::{ADAPTIVE_CARD, Activity};
use super::adapter::{ConversationRef, PostedRef, TeamsPort};
use super::auth::{AuthError, AuthenticatedActivity, Refused, TeamsAuthenticator};
use super::cards;
use super::service_url::ServiceUrlAllowlist;
use crate::domain::ids::{ObjectId, RequestId, StageId};
use crate::engine::Engine;
use crate::engine::port::{CardAction, ChatPort, Message, Recipient};
use crate::store::links::ChatIdentity;

/// How long a seen activity id is remembered against replays.
const REPLAY_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a chat command may run before the HTTP answer (Teams gives 15 s).
const COMMAND_BUDGET: Duration = Duration::from_secs(10);
const ERROR_TYPE: &str = "application/vnd.microsoft.error";

/// The Teams side of the bot, shared by the handler and the tests.
pub struct TeamsBot {
    pub authenticator: Arc<TeamsAuthenticator>,
    pub allowlist: Arc<ServiceUrlAllowlist>,
    pub engine: Arc<Engine>,
    pub port: Arc<TeamsPort>,
    pub dev_no_auth: bool,
    seen: Mutex<HashMap<String, Instant>>,
    busy: AtomicUsize,
    done: Notify,
}

impl std::fmt::Debug for TeamsBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsBot").finish_non_exhaustive()
    }
}

impl TeamsBot {
    pub fn new(
        authenticator: Arc<TeamsAuthenticator>,
        allowlist: Arc<ServiceUrlAllowlist>,
        engine: Arc<Engine>,
        port: Arc<TeamsPort>,
        dev_no_auth: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            authenticator,
            allowlist,
            engine,
            port,
            dev_no_auth,
            seen: Mutex::new(HashMap::new()),
            busy: AtomicUsize::new(0),
            done: Notify::new(),
        })
    }

    /// Resolves when no click or command is still being worked on.
    pub async fn idle(&self) {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.busy.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    fn spawn<F>(self: &Arc<Self>, work: F) -> tokio::task::JoinHandle<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.busy.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        tokio::spawn(async move {
            work.await;
            me.busy.fetch_sub(1, Ordering::SeqCst);
            me.done.notify_waiters();
        })
    }

    /// True the first time an activity id is seen within the window.
    fn first_sight(&self, id: Option<&str>) -> bool {
        let Some(id) = id else { return true };
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| now.duration_since(*at) < REPLAY_WINDOW);
        seen.insert(id.to_owned(), now).is_none()
    }
}

pub fn router(bot: Arc<TeamsBot>) -> Router {
    Router::new()
        .route("/api/teams/messages", post(messages))
        .with_state(bot)
}

/// The Bot Connector (a Bot Framework JWT for this bot, endorsed for
/// `msteams`, from the bot's tenant) may call; in `dev_no_auth` mode, any
/// loopback client (the Agents Playground).
async fn messages(State(bot): State<Arc<TeamsBot>>, request: Request) -> Response {
    let authenticated = if bot.dev_no_auth {
        tracing::warn!("teams.dev_no_auth is on: accepting an unauthenticated activity");
        unauthenticated(&bot, request).await
    } else {
        bot.authenticator.authenticate(request).await
    };
    let AuthenticatedActivity {
        activity,
        service_url,
    } = match authenticated {
        Ok(a) => a,
        Err(e) => return Refused(e).into_response(),
    };
    if !bot.first_sight(activity.id.as_deref()) {
        tracing::info!("replayed Teams activity ignored");
        return match activity.kind.as_str() {
            "invoke" => invoke_reply(
                StatusCode::OK,
                "application/vnd.microsoft.activity.message",
                json!("This click was already received."),
            ),
            _ => StatusCode::OK.into_response(),
        };
    }
    let here = activity.conversation.as_ref().map(|c| ConversationRef {
        service_url: service_url.as_str().to_owned(),
        conversation_id: c.id.clone(),
    });
    match activity.kind.as_str() {
        "message" => on_message(&bot, activity, here).await,
        "invoke" => on_invoke(&bot, activity, here).await,
        "conversationUpdate" => on_update(&bot, &activity, here).await,
        _ => StatusCode::OK.into_response(),
    }
}

/// Dev mode only: the body as an activity, its serviceUrl admitted (the
/// allowlist takes http only on loopback).
async fn unauthenticated(
    bot: &TeamsBot,
    request: Request,
) -> Result<AuthenticatedActivity, AuthError> {
    let limit = bot.authenticator.settings().max_body_bytes;
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| AuthError::TooLarge)?;
    let activity: Activity =
        serde_json::from_slice(&bytes).map_err(|e| AuthError::BadActivity(e.to_string()))?;
    let raw = activity
        .service_url
        .clone()
        .ok_or_else(|| AuthError::BadActivity("no serviceUrl".into()))?;
    let service_url = bot
        .allowlist
        .learn(&raw)
        .map_err(|_| AuthError::ServiceUrlMismatch)?;
    Ok(AuthenticatedActivity {
        activity,
        service_url,
    })
}

/// The person an activity comes from, and registers them with the engine.
async fn person(bot: &TeamsBot, activity: &Activity) -> Option<ChatIdentity> {
    let from = activity.from.as_ref()?;
    let aad = from.aad_object_id.as_deref()?;
    let object_id: ObjectId = aad.parse().ok()?;
    let tenant = activity.tenant_id()?;
    let who = ChatIdentity {
        platform: "teams".into(),
        workspace: tenant.to_owned(),
        user: aad.to_owned(),
    };
    let name = from.name.as_deref().unwrap_or(aad);
    if let Err(e) = bot.engine.register_person(&who, &object_id, name).await {
        tracing::warn!(error = %e, "cannot register a Teams person");
    }
    Some(who)
}

fn is_personal(activity: &Activity) -> bool {
    activity
        .conversation
        .as_ref()
        .and_then(|c| c.conversation_type.as_deref())
        == Some("personal")
}

async fn on_message(
    bot: &Arc<TeamsBot>,
    activity: Activity,
    here: Option<ConversationRef>,
) -> Response {
    if !is_personal(&activity) {
        // Commands carry identities and tickets: personal chat only.
        return StatusCode::OK.into_response();
    }
    let Some(who) = person(bot, &activity).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Some(here) = here {
        bot.port.remember_person(&who.user, here).await;
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

fn invoke_reply(status: StatusCode, kind: &str, value: Value) -> Response {
    let body = json!({ "statusCode": status.as_u16(), "type": kind, "value": value });
    (status, Json(body)).into_response()
}

fn invoke_error(status: StatusCode, code: &str, message: &str) -> Response {
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

async fn on_invoke(
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
    let action = match card_action(verb, &value.action.data) {
        Ok(a) => a,
        Err(why) => return invoke_error(StatusCode::BAD_REQUEST, "BadRequest", why),
    };
    let justification = value
        .action
        .data
        .get("justification")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|j| !j.is_empty())
        .map(str::to_owned);
    // Clients accept whitespace for `isRequired` (facts §4): check here.
    if matches!(action, CardAction::Approve { .. } | CardAction::Deny { .. })
        && justification.is_none()
    {
        return invoke_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "A justification is required: say why you approve or deny.",
        );
    }
    let Some(who) = person(bot, &activity).await else {
        return invoke_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the click names no Entra user",
        );
    };
    let card_at = match (here, activity.reply_to_id.clone()) {
        (Some(conversation), Some(activity_id)) => Some(PostedRef {
            conversation,
            activity_id,
        }),
        _ => None,
    };
    let me = bot.clone();
    bot.spawn(async move {
        let result = me
            .engine
            .action(&who, &action, justification.as_deref())
            .await;
        me.finish_click(&who, card_at, result).await;
    });
    invoke_reply(StatusCode::OK, ADAPTIVE_CARD, cards::recording())
}

impl TeamsBot {
    /// After a click: the clicked card shows its current state with the
    /// outcome on top. A decision's own retire updates come through the
    /// outbox first, so no live button is put back over a decided card.
    async fn finish_click(&self, who: &ChatIdentity, at: Option<PostedRef>, result: Message) {
        let note = if let Message::SignInPrompt { .. } = &result {
            let to = Recipient::Person {
                identity: who.clone(),
            };
            if let Err(e) = self.port.post(&to, &result).await {
                tracing::warn!(error = %e, "cannot send a sign-in prompt");
            }
            "Sign in with the link I just sent you; your click completes then.".to_owned()
        } else {
            result.text()
        };
        let _ = tokio::time::timeout(Duration::from_secs(20), self.engine.outbox_idle()).await;
        let Some(at) = at else { return };
        let current = self
            .port
            .sent_message(&at.conversation.conversation_id, &at.activity_id);
        let card = match current {
            Some(message) => cards::with_notice(cards::render(&message), &note),
            None => cards::render(&Message::Text { text: note }),
        };
        let service_url = match self.allowlist.admit(&at.conversation.service_url) {
            Ok(s) => s,
            Err(e) => return tracing::warn!(error = %e, "cannot update the clicked card"),
        };
        let activity = super::activity::OutgoingActivity::card(card);
        if let Err(e) = self
            .port
            .connector()
            .update_activity(
                &service_url,
                &at.conversation.conversation_id,
                &at.activity_id,
                &activity,
            )
            .await
        {
            tracing::warn!(error = %e, "cannot update the clicked card");
        }
    }
}

async fn on_update(bot: &TeamsBot, activity: &Activity, here: Option<ConversationRef>) -> Response {
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
        if let Some(who) = person(bot, activity).await {
            bot.port.remember_person(&who.user, here).await;
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
