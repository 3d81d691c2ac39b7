//! Builds the bot: its router, its state and its background workers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use crate::chat::port::ChatPort;
use crate::config::Settings;
use crate::engine::Engine;
use crate::engine::time::{Clock, SystemClock};
use crate::identity::link::LinkService;
use crate::store::Store;

pub(crate) mod build;

/// Everything a handler may reach. Ports to the outside world are added here
/// as trait objects by the engine and chat issues.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub links: Arc<LinkService>,
    pub engine: Arc<Engine>,
    /// The engine as the intake sees it.
    pub intake_sink: Option<Arc<dyn crate::engine::intake::IntakeSink>>,
    /// The Teams messaging endpoint's side, when `[teams]` is configured.
    pub teams: Option<Arc<crate::chat::teams::handlers::TeamsBot>>,
}

/// What the caller provides beyond settings: the chat adapters (Teams,
/// Slack, or the in-memory one in tests) and the clock (the sandbox's
/// emulated clock in tests).
pub struct AppOptions {
    pub ports: Vec<Arc<dyn ChatPort>>,
    pub clock: Arc<dyn Clock>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            ports: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    grace: Duration,
    connection_limits: crate::http::ConnectionLimits,
    state: AppState,
    intake: crate::intake::Intake,
    /// `/metrics` on its own listener, when `server.metrics_bind` is set.
    metrics: Option<(TcpListener, Router)>,
}

impl Application {
    /// Opens the database (applying migrations) and binds the configured
    /// address; port 0 picks a free port, see [`Application::port`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, AppOptions::default()).await
    }

    /// [`Application::build`] with explicit chat adapters and clock.
    pub async fn build_with(mut settings: Settings, options: AppOptions) -> anyhow::Result<Self> {
        build::refuse_unusable(&settings, options.ports.len())?;
        let (listener, port, metrics_listener) = build::listen(&mut settings).await?;
        let (store, links) = build::open_store(&settings).await?;
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let recorder = crate::metrics::Recorder::new(metrics.clone());
        let (http, graph) = build::clients(&settings, recorder)?;
        let mut ports = options.ports;
        let (slack, teams) = build::adapters(&settings, &mut ports, &http, &graph, &store)?;
        let (engine, teams_bot) = build::engine(
            &settings,
            (store.clone(), graph.clone(), links.clone()),
            ports,
            teams,
            options.clock.clone(),
        )?;
        let limits = build::ServerLimits::from_settings(&settings.server);
        let state = AppState {
            settings: Arc::new(settings),
            store,
            links,
            intake_sink: Some(engine.clone()),
            engine,
            teams: teams_bot,
        };
        let metrics_server = metrics_listener.map(|listener| {
            let routes = build::metrics_routes(
                &state.settings,
                metrics.clone(),
                state.store.clone(),
                options.clock.clone(),
                &limits,
            );
            (listener, routes)
        });
        let intake = crate::intake::Intake::for_app(&state, graph, options.clock)
            .map_err(|e| anyhow::anyhow!(e))?;
        let router = build::routes(&state, &intake, slack, &limits, &metrics);
        Ok(Self {
            listener,
            router,
            port,
            grace: limits.grace,
            connection_limits: limits.connections,
            state,
            intake,
            metrics: metrics_server,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where `/metrics` is served (the port bound when configured with
    /// port 0), or `None` when `server.metrics_bind` is off.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until `shutdown` resolves, then drains in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(port = self.port, "stagegate listening");
        let engine = self.state.engine.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let metrics = self.metrics.map(|(listener, routes)| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "metrics on http://{addr}/metrics");
            }
            let mut stop = stop_rx.clone();
            // Scrapers are few and known: a small cap of their own, apart
            // from the public listener's.
            let limits = crate::http::ConnectionLimits {
                max_connections: 16,
                header_read_timeout: self.connection_limits.header_read_timeout,
            };
            tokio::spawn(crate::http::serve_with_limits(
                listener,
                routes,
                async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                },
                self.grace,
                limits,
            ))
        });
        let worker = tokio::spawn(engine.clone().run_outbox(async move {
            let mut rx = stop_rx;
            let _ = rx.wait_for(|stop| *stop).await;
        }));
        // Start-up: settle decisions and activations a crash interrupted, then catch up on
        // every open request (the outbox worker delivers what is owed).
        let catch_up = tokio::spawn(async move {
            if let Err(e) = engine.recover_decisions().await {
                tracing::warn!(error = %e, "decision recovery failed");
            }
            if let Err(e) = engine.recover_activations().await {
                tracing::warn!(error = %e, "activation recovery failed");
            }
            if let Err(e) = engine.reconcile_all_open().await {
                tracing::warn!(error = %e, "start-up reconcile failed");
            }
        });
        let upkeep = tokio::spawn(identity_upkeep(self.state.links.clone()));
        // Each security channel checked once at start-up (logged); `/readyz`
        // checks again while none is reachable, so a bot installed in the
        // channel's team after start (the sandbox does so) becomes ready.
        let checking = self.state.engine.clone();
        let channels = tokio::spawn(async move { checking.check_security_channels().await });
        // The Bot Framework signing keys are fetched in the background, so no
        // activity waits for a fetch that is failing; stopped when dropped.
        let key_refresher = self
            .state
            .teams
            .as_ref()
            .filter(|bot| !bot.dev_no_auth)
            .map(|bot| bot.authenticator.start_key_refresh());
        // The listener is bound, so Graph's handshake reaches the router.
        let intake = self.intake.start();
        let served = crate::http::serve_with_limits(
            self.listener,
            self.router,
            shutdown,
            self.grace,
            self.connection_limits,
        )
        .await;
        drop(key_refresher);
        intake.shutdown(self.grace).await;
        catch_up.abort();
        upkeep.abort();
        channels.abort();
        let _ = stop_tx.send(true);
        let _ = worker.await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        served
    }
}

/// Purges spent sign-in state hourly, and re-seals stored tokens daily
/// (start-up already did once): a key rotated in while running takes
/// effect without a restart.
async fn identity_upkeep(links: Arc<LinkService>) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    for tick in 0u64.. {
        hourly.tick().await;
        if let Err(e) = links.purge_expired().await {
            tracing::warn!(error = %e, "cannot purge expired sign-in state");
        }
        if tick > 0
            && tick % 24 == 0
            && let Err(e) = links.reseal_all().await
        {
            tracing::warn!(error = %e, "cannot re-seal stored refresh tokens");
        }
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::identity::routes::router())
        .with_state(state)
}

/// Anyone may call: says the process is up, and what it knows of the
/// security channels (reachable or why not, alerts not delivered).
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    Json(json!({ "status": "ok", "security": state.engine.security_health() }))
}

/// Anyone may call: says the database answers and is migrated, and a
/// security channel (if any is configured) is reachable.
async fn readyz(State(state): State<AppState>) -> Response {
    let ready = match state.store.readiness().await {
        Ok(()) => state.engine.security_ready().await,
        Err(reason) => Err(reason),
    };
    match ready {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "reason": reason })),
            )
                .into_response()
        }
    }
}
