//! `POST /api/teams/messages`: the bot's messaging endpoint. Every request
//! is authenticated ([`TeamsAuthenticator`]) before its body is used, then
//! handed to the engine: `message` runs a chat command, `invoke`
//! `adaptiveCard/action` a card click, `conversationUpdate` stores where a
//! person or channel is reached. The clicker is the authenticated
//! `from.aadObjectId`, never anything in the card's data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod click;
mod conversation;
mod dev;
mod in_flight;
mod refresh;
mod stranger;

pub use click::{ClickError, parse_click, submitted};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use super::activity::Activity;
use super::adapter::{ConversationRef, TeamsPort};
use super::auth::{AuthenticatedActivity, Refused, TeamsAuthenticator};
use super::service_url::ServiceUrlAllowlist;
use crate::engine::Engine;
use crate::store::StoreError;
use crate::store::replay::{ReplayLedger, ReplayScope};

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
    /// Activity ids already handled, in the database: a replay is ignored
    /// after a restart and by every replica too.
    seen: ReplayLedger,
    /// Clicks still being worked on, per card (by conversation and
    /// activity id): only the last of a burst queues the card's update.
    clicks_in_flight: Mutex<std::collections::HashMap<String, in_flight::InFlight>>,
    /// Whether the directory knows a sender, asked at most every few
    /// minutes per person.
    directory: stranger::DirectoryCache,
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
        let seen = ReplayLedger::new(engine.store().clone(), ReplayScope::Teams);
        Arc::new(Self {
            authenticator,
            allowlist,
            engine,
            port,
            dev_no_auth,
            seen,
            clicks_in_flight: Mutex::default(),
            directory: stranger::DirectoryCache::default(),
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

    /// True the first time an activity id is seen within the window (an
    /// activity without an id cannot be recognised again). Only a hash of
    /// the id is stored.
    async fn first_sight(&self, id: Option<&str>) -> Result<bool, StoreError> {
        let Some(id) = id else { return Ok(true) };
        let now = chrono::Utc::now().timestamp();
        let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        let window = i64::try_from(REPLAY_WINDOW.as_secs()).unwrap_or(i64::MAX);
        self.seen.first_sight(&digest, now + window, now).await
    }
}

pub fn router(bot: Arc<TeamsBot>) -> Router {
    Router::new()
        .route("/api/teams/messages", post(messages))
        .with_state(bot)
}

/// The Bot Connector (a Bot Framework JWT for this bot, endorsed for
/// `msteams`, from the bot's tenant) may call; in `dev_no_auth` mode, a
/// loopback client sending JSON for the configured serviceUrl (the Agents
/// Playground, see [`dev`]).
async fn messages(State(bot): State<Arc<TeamsBot>>, request: Request) -> Response {
    let authenticated = if bot.dev_no_auth {
        tracing::warn!("teams.dev_no_auth is on: accepting an unauthenticated activity");
        match dev::unauthenticated(&bot, request).await {
            Ok(activity) => Ok(activity),
            Err(refusal) => return refusal.into_response(),
        }
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
    let first = match bot.first_sight(activity.id.as_deref()).await {
        Ok(first) => first,
        Err(e) => {
            // Without the record a replay could act twice: refuse instead.
            tracing::error!(error = %e, "cannot record a Teams activity against replays");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if !first {
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

fn is_personal(activity: &Activity) -> bool {
    activity
        .conversation
        .as_ref()
        .and_then(|c| c.conversation_type.as_deref())
        == Some("personal")
}
