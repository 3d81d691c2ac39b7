//! The sandbox: emulators of everything stagegate talks to, on loopback.
//!
//! The emulators are a separate HTTP server that the bot reaches exactly as it
//! reaches Microsoft and Slack; only base URLs differ. State is in memory.

pub mod clock;
pub mod control;
pub mod entra;
pub mod graph;
pub mod keys;
pub mod teams;
pub mod tenant;
pub mod tokens;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use secrecy::SecretString;
use tokio::net::TcpListener;

use crate::config::{
    DatabaseSettings, EntraSettings, GraphSettings, LogSettings, ServerSettings, Settings,
    TeamsSettings,
};
use clock::SimClock;
use keys::SigningKey;
use tenant::TenantFile;
use world::World;

/// Shared state of every emulator.
#[derive(Clone)]
pub struct SimState(Arc<SimInner>);

pub struct SimInner {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base_url: String,
    pub clock: SimClock,
    entra_key: SigningKey,
    tenant_id: String,
    world: Mutex<World>,
    pub entra: Mutex<entra::EntraState>,
    /// The emulated Teams (Bot Framework keys, connector, conversations).
    pub teams: teams::TeamsSim,
}

impl std::ops::Deref for SimState {
    type Target = SimInner;
    fn deref(&self) -> &SimInner {
        &self.0
    }
}

impl SimState {
    pub fn new(base_url: String, world: World) -> Self {
        Self(Arc::new(SimInner {
            base_url,
            clock: SimClock::new(),
            entra_key: SigningKey::generate(format!(
                "sim-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )),
            tenant_id: world.tenant_id.clone(),
            world: Mutex::new(world),
            entra: Mutex::new(entra::EntraState::default()),
            teams: teams::TeamsSim::new(),
        }))
    }

    /// Locks the world after applying everything due by the emulated now.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let mut world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        world.advance_to(self.clock.now());
        world
    }

    pub fn tenant_id(&self) -> String {
        self.tenant_id.clone()
    }

    pub fn entra_key(&self) -> &SigningKey {
        &self.entra_key
    }

    /// Absolute URL of a Graph path (`/users` → `…/graph/v1.0/users`).
    pub fn graph_url(&self, path: &str) -> String {
        format!("{}/graph/v1.0{path}", self.base_url)
    }

    /// Settings that point the bot at this sandbox.
    pub fn bot_settings(&self, bind: SocketAddr, database: std::path::PathBuf) -> Settings {
        let world = self.world();
        Settings {
            server: ServerSettings {
                bind,
                public_base_url: format!("http://{bind}"),
                ..ServerSettings::default()
            },
            database: DatabaseSettings {
                path: database,
                ..DatabaseSettings::default()
            },
            log: LogSettings::default(),
            entra: EntraSettings {
                tenant_id: world.tenant_id.clone(),
                client_id: world.app.client_id.clone(),
                client_secret: SecretString::from(world.app.client_secret.clone()),
                login_base_url: self.login_base_url(),
            },
            graph: GraphSettings {
                base_url: self.graph_url(""),
                ..GraphSettings::default()
            },
            teams: Some(TeamsSettings {
                app_id: world.app.client_id.clone(),
                app_password: SecretString::from(world.app.client_secret.clone()),
                openid_metadata_url: teams::metadata::openid_metadata_url(self),
            }),
            slack: None,
        }
    }

    /// The emulated Entra's base (what `login.microsoftonline.com` is).
    pub fn login_base_url(&self) -> String {
        format!("{}/login", self.base_url)
    }
}

/// Options of `stagegate sandbox`.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub bind: SocketAddr,
    /// Tenant file contents; the seeded tenant when `None`.
    pub tenant: Option<String>,
}

/// A bound, not yet running, emulator server.
pub struct Sandbox {
    listener: TcpListener,
    router: Router,
    pub state: SimState,
}

impl Sandbox {
    pub async fn build(options: SandboxOptions) -> anyhow::Result<Self> {
        let tenant = TenantFile::parse(options.tenant.as_deref().unwrap_or(tenant::SEED_TENANT))
            .map_err(anyhow::Error::msg)?;
        let world = tenant
            .into_world(chrono::Utc::now())
            .map_err(anyhow::Error::msg)?;
        let listener = TcpListener::bind(options.bind)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.bind))?;
        let addr = listener.local_addr()?;
        let state = SimState::new(format!("http://{addr}"), world);
        let router = Router::new()
            .nest("/login", entra::router())
            .nest("/graph/v1.0", graph::router(state.clone()))
            .nest("/botframework", teams::metadata::router())
            .nest("/teams/v3", teams::connector::router())
            .nest("/sim", control::router().merge(teams::driver::router()))
            .with_state(state.clone());
        let router = crate::http::with_common_layers(router, Duration::from_secs(60));
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// Settings that point the bot at this sandbox.
    pub fn bot_settings(&self, bind: SocketAddr, database: std::path::PathBuf) -> Settings {
        self.state.bot_settings(bind, database)
    }

    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::http::serve(self.listener, self.router, shutdown, Duration::from_secs(5)).await
    }
}
