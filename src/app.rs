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
use crate::engine::time::{Clock, SystemClock};
use crate::engine::{Engine, EngineDeps};
use crate::graph::GraphClient;
use crate::identity::link::LinkService;
use crate::identity::vault::KeyRing;
use crate::retry::RetryPolicy;
use crate::store::{SqliteStore, Store};
use crate::token::AppTokenSource;
use stagegate_domain::chat_ids::Platform;

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
}

impl Application {
    /// Opens the database (applying migrations) and binds the configured
    /// address; port 0 picks a free port, see [`Application::port`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, AppOptions::default()).await
    }

    /// [`Application::build`] with explicit chat adapters and clock.
    pub async fn build_with(mut settings: Settings, options: AppOptions) -> anyhow::Result<Self> {
        settings
            .refuse_sandbox_secrets_off_loopback()
            .map_err(anyhow::Error::msg)?;
        settings.server.check_limits().map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(settings.server.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        // A public URL on port 0 (tests, the sandbox) means "the port we got":
        // sign-in links and the redirect URI must carry the real one.
        if let Some(base) = settings.server.public_base_url.strip_suffix(":0") {
            settings.server.public_base_url = format!("{base}:{port}");
        }
        let vault = Arc::new(
            KeyRing::new(
                &settings.identity.vault_keys,
                &settings.identity.vault_primary_key,
            )
            .map_err(|e| anyhow::anyhow!("identity.vault_keys: {e}"))?,
        );
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&settings.database.path, settings.database.max_connections).await?,
        );
        let links = Arc::new(LinkService::new(&settings, store.clone(), vault));
        // Before serving: every stored token opens with the primary key and
        // the current associated data from here on.
        links
            .reseal_all()
            .await
            .map_err(|e| anyhow::anyhow!("re-sealing stored refresh tokens: {e}"))?;
        let http = reqwest::Client::builder()
            // Graph never redirects API calls; following one could leak a token.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let app_token = Arc::new(AppTokenSource::new(
            http.clone(),
            &settings.entra.login_base_url,
            &settings.entra.tenant_id,
            &settings.entra.client_id,
            settings.entra.client_secret.clone(),
            "https://graph.microsoft.com/.default",
        ));
        let graph = GraphClient::new(
            http.clone(),
            &settings.graph.base_url,
            app_token,
            Duration::from_secs(settings.graph.timeout_seconds),
            RetryPolicy::default(),
        );
        let mut ports = options.ports;
        // Slack is spoken when configured, unless the caller brought its own
        // Slack adapter (tests with the in-memory one).
        let slack = settings
            .slack
            .as_ref()
            .filter(|_| !ports.iter().any(|p| p.platform() == Platform::Slack))
            .map(|s| {
                let client = crate::chat::slack::SlackClient::from_settings(http.clone(), s);
                let verifier = crate::chat::slack::SlackVerifier::new(s.signing_secret.clone());
                let origin = crate::chat::slack::SlackOrigin::from_settings(s, client.clone())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok::<_, anyhow::Error>((
                    Arc::new(crate::chat::slack::SlackPort::new(client).with_store(store.clone())),
                    verifier,
                    origin,
                ))
            })
            .transpose()?;
        if let Some((port, _, _)) = &slack {
            ports.push(port.clone());
        }
        // The Teams adapter, unless the caller brought its own Teams port.
        let teams = match &settings.teams {
            Some(t) if !ports.iter().any(|p| p.platform() == Platform::Teams) => Some(
                crate::chat::teams::wiring::build(&settings, t, &http, store.clone())?,
            ),
            _ => None,
        };
        if let Some((_, _, port)) = &teams {
            ports.push(port.clone());
        }
        let engine = Engine::new(EngineDeps {
            settings: settings.engine.clone(),
            store: store.clone(),
            graph: graph.clone(),
            links: links.clone(),
            ports,
            clock: options.clock.clone(),
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let teams_bot = teams.map(|(authenticator, allowlist, port)| {
            let dev = settings.teams.as_ref().is_some_and(|t| t.dev_no_auth);
            crate::chat::teams::handlers::TeamsBot::new(
                authenticator,
                allowlist,
                engine.clone(),
                port,
                dev,
            )
        });
        let grace = Duration::from_secs(settings.server.shutdown_grace_seconds);
        let timeout = Duration::from_secs(settings.server.request_timeout_seconds);
        let connection_limits = crate::http::ConnectionLimits {
            max_connections: settings.server.max_connections,
            header_read_timeout: Duration::from_secs(settings.server.header_read_timeout_seconds),
        };
        let request_limits = crate::http::RequestLimits {
            max_in_flight: settings.server.max_in_flight_requests,
            body_read_timeout: Duration::from_secs(settings.server.body_read_timeout_seconds),
        };
        let state = AppState {
            settings: Arc::new(settings),
            store,
            links,
            intake_sink: Some(engine.clone()),
            engine,
            teams: teams_bot.clone(),
        };
        let intake = crate::intake::Intake::for_app(&state, graph, options.clock)
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut routes = router(state.clone()).merge(intake.router());
        if let Some((port, verifier, origin)) = slack {
            let inbound = crate::chat::slack::handlers::SlackInbound::new(
                verifier,
                origin,
                state.store.clone(),
                state.engine.clone(),
                port,
            );
            routes = routes.merge(crate::chat::slack::handlers::router(inbound));
        }
        if let Some(bot) = teams_bot {
            routes = routes.merge(crate::chat::teams::handlers::router(bot));
        }
        let router = crate::http::with_common_layers(routes, timeout);
        let router = crate::http::with_request_limits(router, request_limits);
        Ok(Self {
            listener,
            router,
            port,
            grace,
            connection_limits,
            state,
            intake,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
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
        let _ = stop_tx.send(true);
        let _ = worker.await;
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

/// Anyone may call: says the process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Anyone may call: says the database answers and is migrated.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.readiness().await {
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
