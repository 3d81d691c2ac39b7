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

use crate::config::Settings;
use crate::identity::link::LinkService;
use crate::identity::vault::KeyRing;
use crate::store::Store;

/// Everything a handler may reach. Ports to the outside world are added here
/// as trait objects by the engine and chat issues.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub links: Arc<LinkService>,
    /// The engine as the intake sees it; `None` until the engine is wired.
    pub intake_sink: Option<Arc<dyn crate::engine::intake::IntakeSink>>,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    grace: Duration,
    state: AppState,
    intake: crate::intake::Intake,
}

impl Application {
    /// Opens the database (applying migrations) and binds the configured
    /// address; port 0 picks a free port, see [`Application::port`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let vault = Arc::new(
            KeyRing::new(
                &settings.identity.vault_keys,
                &settings.identity.vault_primary_key,
            )
            .map_err(|e| anyhow::anyhow!("identity.vault_keys: {e}"))?,
        );
        let store = Store::open(&settings.database.path, settings.database.max_connections).await?;
        let links = Arc::new(LinkService::new(&settings, store.clone(), vault));
        let listener = TcpListener::bind(settings.server.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind))?;
        let port = listener.local_addr()?.port();
        let grace = Duration::from_secs(settings.server.shutdown_grace_seconds);
        let timeout = Duration::from_secs(settings.server.request_timeout_seconds);
        let state = AppState {
            settings: Arc::new(settings),
            store,
            links,
            intake_sink: None,
        };
        let intake = crate::intake::Intake::for_app(&state).map_err(|e| anyhow::anyhow!(e))?;
        let router =
            crate::http::with_common_layers(router(state.clone()).merge(intake.router()), timeout);
        Ok(Self {
            listener,
            router,
            port,
            grace,
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
        // The listener is bound, so Graph's handshake reaches the router.
        let intake = self.intake.start();
        let served = crate::http::serve(self.listener, self.router, shutdown, self.grace).await;
        intake.shutdown(self.grace).await;
        served
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
