//! `POST /api/teams/messages`: the bot's messaging endpoint. Every request
//! is authenticated ([`TeamsAuthenticator`]) before its body is used, then
//! handed to the engine: `message` runs a chat command, `invoke`
//! `adaptiveCard/action` a card click, `conversationUpdate` stores where a
//! person or channel is reached. The clicker is the authenticated
//! `from.aadObjectId`, never anything in the card's data.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod click;
mod conversation;

pub use click::{parse_click, submitted};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::Notify;

use super::activity::Activity;
use super::adapter::{ConversationRef, TeamsPort};
use super::auth::{AuthError, AuthenticatedActivity, Refused, TeamsAuthenticator};
use super::service_url::ServiceUrlAllowlist;
use crate::domain::ids::ObjectId;
use crate::engine::Engine;
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
    seen: Mutex<SeenIds>,
    /// The latest outcome of clicks on each card whose rewrite is still
    /// waiting (by conversation and activity id): a burst of clicks on one
    /// card costs one update, not one per click.
    click_outcomes: Mutex<std::collections::HashMap<String, click::CardClicks>>,
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
            seen: Mutex::new(SeenIds::default()),
            click_outcomes: Mutex::default(),
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
        seen.first_sight(id, now)
    }
}

/// Activity ids seen within [`REPLAY_WINDOW`], oldest first, so expiring
/// them costs O(1) per activity (a full scan per activity made the Teams
/// endpoint quadratic under load: `stagegate bench`).
#[derive(Default)]
struct SeenIds {
    ids: HashSet<String>,
    order: VecDeque<(Instant, String)>,
}

impl SeenIds {
    fn first_sight(&mut self, id: &str, now: Instant) -> bool {
        while self
            .order
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= REPLAY_WINDOW)
        {
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        if !self.ids.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back((now, id.to_owned()));
        true
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
            "invoke" => click::invoke_reply(
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
        "message" => conversation::on_message(&bot, activity, here).await,
        "invoke" => click::on_invoke(&bot, activity, here).await,
        "conversationUpdate" => conversation::on_update(&bot, &activity, here).await,
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
    let bytes = super::auth::read_body(request.into_body(), limit).await?;
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

#[cfg(test)]
mod seen_tests {
    use super::*;

    #[test]
    fn an_id_is_new_once_within_the_window_and_again_after_it() {
        let mut seen = SeenIds::default();
        let start = Instant::now();
        assert!(seen.first_sight("a", start));
        assert!(!seen.first_sight("a", start + Duration::from_secs(60)));
        assert!(seen.first_sight("b", start + Duration::from_secs(60)));
        let later = start + REPLAY_WINDOW + Duration::from_secs(1);
        assert!(seen.first_sight("a", later), "expired ids are forgotten");
        assert!(
            !seen.first_sight("b", later),
            "b is still within its window"
        );
        assert_eq!(seen.ids.len(), seen.order.len());
    }
}
