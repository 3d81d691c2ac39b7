//! The three intakes (docs/architecture.md, "Intake"): Graph change
//! notifications for the privileged groups' membership, custom-extension
//! callouts relayed by the Logic App, and the reconciling poller. Intake only
//! says *that* something may have changed; the engine ([`IntakeSink`]) reads
//! Graph and reconciles, so duplicates and reordering are harmless.
//!
//! Endpoints (each authenticated before its body is parsed, body size
//! limited, answering fast and processing after the answer):
//!
//! - `POST /api/graph/notifications`, `POST /api/graph/lifecycle` — Graph's
//!   validation handshake, change notifications and lifecycle notifications
//!   ([`notifications`]).
//! - `POST /api/graph/callouts` — the relay's callouts ([`callouts`]).
//!
//! Background tasks, started by [`Intake::start`] once the bot listens: the
//! queue worker, the [`subscriptions`] manager and the [`poller`].

pub mod callouts;
pub mod clock;
pub mod config;
pub mod notifications;
pub(crate) mod poller;
mod secret;
pub(crate) mod subscriptions;
mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tower_http::limit::RequestBodyLimitLayer;

use crate::engine::intake::{Cause, IntakeSink};
use crate::graph::GraphClient;
use crate::store::Store;
use clock::Clock;
use config::IntakeConfig;
use stagegate_domain::ids::{ObjectId, RequestId};
use worker::{Dedupe, LifecycleNotice, Work};

pub use callouts::RELAY_SECRET_HEADER;

pub const NOTIFICATIONS_PATH: &str = "/api/graph/notifications";
pub const LIFECYCLE_PATH: &str = "/api/graph/lifecycle";
pub const CALLOUTS_PATH: &str = "/api/graph/callouts";

/// Work accepted but not yet handed to the engine. Beyond this the
/// endpoints answer 503 so Graph (and the relay) retry later.
const QUEUE_CAPACITY: usize = 1024;

/// What the intake is built from.
pub struct IntakeDeps {
    pub config: IntakeConfig,
    pub sink: Arc<dyn IntakeSink>,
    /// Calls Graph with the app's own token (`Auth::App`).
    pub graph: GraphClient,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

/// The intake: its HTTP endpoints and its background tasks share this.
#[derive(Clone)]
pub struct Intake {
    inner: Arc<Inner>,
}

struct Inner {
    config: IntakeConfig,
    sink: Arc<dyn IntakeSink>,
    graph: GraphClient,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    queue: mpsc::Sender<Work>,
    queue_rx: Mutex<Option<mpsc::Receiver<Work>>>,
    lifecycle: mpsc::UnboundedSender<LifecycleNotice>,
    lifecycle_rx: Mutex<Option<mpsc::UnboundedReceiver<LifecycleNotice>>>,
    poll_now: Notify,
    check_subscriptions: Notify,
    seen: Mutex<Dedupe>,
}

impl Intake {
    pub fn new(deps: IntakeDeps) -> Self {
        let (queue, queue_rx) = mpsc::channel(QUEUE_CAPACITY);
        let (lifecycle, lifecycle_rx) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                config: deps.config,
                sink: deps.sink,
                graph: deps.graph,
                store: deps.store,
                clock: deps.clock,
                queue,
                queue_rx: Mutex::new(Some(queue_rx)),
                lifecycle,
                lifecycle_rx: Mutex::new(Some(lifecycle_rx)),
                poll_now: Notify::new(),
                check_subscriptions: Notify::new(),
                seen: Mutex::new(Dedupe::default()),
            }),
        }
    }

    /// The intake of the bot: its settings, the engine from `state` (or a
    /// sink that only logs while no engine is wired), and the app's Graph
    /// client and clock (shared with the engine: one token cache, one now).
    pub fn for_app(
        state: &crate::app::AppState,
        graph: GraphClient,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let settings = &state.settings;
        let config = IntakeConfig::new(
            &settings.intake,
            &settings.server.public_base_url,
            &settings.entra.tenant_id,
        )?;
        let sink = state.intake_sink.clone().unwrap_or_else(|| {
            tracing::warn!("no engine wired to the intake; intake events are only logged");
            Arc::new(LoggingSink)
        });
        Ok(Self::new(IntakeDeps {
            config,
            sink,
            graph,
            store: state.store.clone(),
            clock,
        }))
    }

    pub fn config(&self) -> &IntakeConfig {
        &self.inner.config
    }

    /// The intake endpoints whose secret is configured (the others are not
    /// routed, so they answer 404), each with the body size limit.
    pub fn router(&self) -> Router {
        let config = &self.inner.config;
        let mut router = Router::new();
        if config.client_state.is_some() {
            router = router
                .route(NOTIFICATIONS_PATH, post(notifications::receive))
                .route(LIFECYCLE_PATH, post(notifications::receive));
        }
        if config.callout_secret.is_some() {
            router = router.route(CALLOUTS_PATH, post(callouts::receive));
        }
        router
            // Ours is the only limit, so the configured one holds even above
            // axum's 2 MB default.
            .layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(config.body_limit))
            .with_state(self.clone())
    }

    /// Starts the queue worker, the subscription manager (when groups are
    /// configured) and the poller. Call once the bot's listener is bound:
    /// creating a subscription runs Graph's handshake against it.
    pub fn start(&self) -> IntakeWorkers {
        let (stop, stopped) = watch::channel(false);
        let mut handles = Vec::new();
        let queue = self
            .inner
            .queue_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(rx) = queue {
            handles.push(tokio::spawn(worker::run(self.clone(), rx, stopped.clone())));
        }
        let lifecycle = self
            .inner
            .lifecycle_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(rx) = lifecycle
            && self.inner.config.client_state.is_some()
            && !self.inner.config.groups.is_empty()
        {
            let manager = subscriptions::SubscriptionManager::new(self.clone(), rx);
            handles.push(tokio::spawn(manager.run(stopped.clone())));
        }
        let poller = poller::Poller::new(self.inner.sink.clone(), self.inner.config.poll_interval);
        handles.push(tokio::spawn(poller.run(self.clone(), stopped)));
        IntakeWorkers { stop, handles }
    }

    /// Makes the poller reconcile every open request now.
    pub fn poll_now(&self) {
        self.inner.poll_now.notify_one();
    }

    /// Makes the subscription manager check (and verify in Graph) every
    /// subscription now.
    pub fn check_subscriptions_now(&self) {
        self.inner.check_subscriptions.notify_one();
    }

    /// Queues all of `work` or none of it (the caller answers 503 then).
    fn enqueue(&self, work: Vec<Work>) -> Result<(), QueueFull> {
        if work.is_empty() {
            return Ok(());
        }
        let permits = self
            .inner
            .queue
            .try_reserve_many(work.len())
            .map_err(|_| QueueFull)?;
        for (permit, item) in permits.zip(work) {
            permit.send(item);
        }
        Ok(())
    }
}

struct QueueFull;

/// Running intake tasks.
pub struct IntakeWorkers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Drop for IntakeWorkers {
    /// Dropping the handle stops the tasks too (without waiting for them).
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl IntakeWorkers {
    /// Stops the tasks; the queue worker first hands what was already
    /// accepted to the engine. Tasks still busy after `grace` are aborted.
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        for mut handle in std::mem::take(&mut self.handles) {
            if tokio::time::timeout_at(deadline, &mut handle)
                .await
                .is_err()
            {
                tracing::warn!("intake task did not stop in time; aborting it");
                handle.abort();
            }
        }
    }
}

/// An `application/problem+json` answer (RFC 9457) for the relay and Graph.
fn problem(status: StatusCode, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail.into(),
    });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn busy() -> Response {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "stagegate is busy; retry later",
    );
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("10"),
    );
    response
}

/// Stands in for the engine until one is wired: logs what intake saw.
struct LoggingSink;

#[async_trait]
impl IntakeSink for LoggingSink {
    async fn reconcile(&self, request: RequestId, cause: Cause) {
        tracing::warn!(%request, ?cause, "no engine: reconcile not performed");
    }

    async fn membership_changed(&self, group: ObjectId, member: ObjectId, added: bool) {
        tracing::warn!(%group, %member, added, "no engine: membership change not handled");
    }

    async fn reconcile_open(&self) {
        tracing::debug!("no engine: poll tick not performed");
    }
}
