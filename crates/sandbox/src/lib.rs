//! The sandbox: emulators of everything stagegate talks to, on loopback.
//!
//! The emulators are a separate HTTP server that the bot reaches exactly as it
//! reaches Microsoft and Slack; only base URLs differ. State is in memory.

#![warn(unreachable_pub)]

pub mod client;
pub mod clock;
pub mod console;
pub mod control;
pub mod entra;
pub mod faults;
pub mod graph;
mod http;
pub mod inspect;
pub mod keys;
pub mod moments;
pub mod notify;
pub mod slack;
pub mod teams;
pub mod tenant;
pub mod tokens;
pub mod tripwire;
pub mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use secrecy::SecretString;
use tokio::net::TcpListener;

use clock::SimClock;
use keys::{PublishedKeys, SigningKey};
use tenant::TenantFile;
use world::World;

/// Shared state of every emulator.
#[derive(Clone)]
pub struct SimState(Arc<SimInner>);

pub struct SimInner {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub base_url: String,
    pub clock: SimClock,
    /// Entra's signing keys (rotated by `POST /sim/entra/keys/rotate`).
    pub entra_keys: PublishedKeys,
    /// How often the bot read Entra's discovery document and keys.
    pub entra_discovery: entra::discovery::DiscoveryStats,
    tenant_id: String,
    world: Mutex<World>,
    pub entra: Mutex<entra::EntraState>,
    /// Subscriptions, outbound webhooks and callouts.
    pub notify: notify::NotifyState,
    /// Injected faults (429/503/504, slow answers) for every emulator.
    pub faults: faults::FaultInjector,
    /// Chaos runs' tripwires and the records their invariants read.
    pub chaos: tripwire::ChaosHooks,
    /// The emulated Slack workspace (its own lock, never held with `world`).
    pub slack: slack::SlackSim,
    /// The emulated Teams (Bot Framework keys, connector, conversations).
    pub teams: teams::TeamsSim,
    /// Secrets the bot's intake is configured with (see `bot_settings`).
    intake_client_state: String,
    callout_secret: String,
    /// HTTP requests that reached Graph from outside (a `$batch` counts
    /// once, its sub-requests not): lets tests measure round trips.
    graph_round_trips: std::sync::atomic::AtomicU64,
    /// What the bot answered the emulated Teams and Slack (bounded), so
    /// tests can prove no secret is ever in a response body.
    bot_answers: Mutex<std::collections::VecDeque<String>>,
    /// The console's change generation: bumped whenever a chat, channel,
    /// request or the clock may have changed (`console`'s `SimState::touch`).
    changes: tokio::sync::watch::Sender<u64>,
    /// Set once the server is shutting down, so console event streams end
    /// instead of holding the graceful shutdown open.
    closing: tokio::sync::watch::Sender<bool>,
}

/// How many bot answers [`SimState::bot_answers`] keeps.
const BOT_ANSWERS_KEPT: usize = 10_000;

impl std::ops::Deref for SimState {
    type Target = SimInner;
    fn deref(&self) -> &SimInner {
        &self.0
    }
}

impl SimState {
    pub fn new(base_url: String, world: World) -> Self {
        Self::with_secrets(base_url, world, None)
    }

    /// A sandbox whose shared secrets are `secrets` (the bot's config file
    /// in emulators-only mode) instead of fresh random ones.
    pub fn with_secrets(base_url: String, world: World, secrets: Option<FixedSecrets>) -> Self {
        let slack = slack::SlackSim::new(
            &world,
            secrets
                .as_ref()
                .map(|s| (s.slack_bot_token.as_str(), s.slack_signing_secret.as_str())),
        );
        Self(Arc::new(SimInner {
            base_url,
            clock: SimClock::new(),
            entra_keys: PublishedKeys::generate("sim-"),
            entra_discovery: entra::discovery::DiscoveryStats::default(),
            tenant_id: world.tenant_id.clone(),
            world: Mutex::new(world),
            entra: Mutex::new(entra::EntraState::default()),
            notify: notify::NotifyState::new(),
            faults: faults::FaultInjector::default(),
            chaos: tripwire::ChaosHooks::default(),
            slack,
            teams: teams::TeamsSim::new(),
            intake_client_state: secrets
                .as_ref()
                .map_or_else(random_secret, |s| s.intake_client_state.clone()),
            callout_secret: secrets
                .as_ref()
                .map_or_else(random_secret, |s| s.callout_secret.clone()),
            graph_round_trips: std::sync::atomic::AtomicU64::new(0),
            bot_answers: Mutex::new(std::collections::VecDeque::new()),
            changes: tokio::sync::watch::Sender::new(0),
            closing: tokio::sync::watch::Sender::new(false),
        }))
    }

    /// Records an HTTP body the bot answered an emulated platform with.
    pub fn record_bot_answer(&self, body: &str) {
        let mut answers = self.bot_answers.lock().unwrap_or_else(|p| p.into_inner());
        if answers.len() == BOT_ANSWERS_KEPT {
            answers.pop_front();
        }
        answers.push_back(body.to_owned());
    }

    /// The bot's answers to the emulated Teams and Slack, oldest first.
    pub fn bot_answers(&self) -> Vec<String> {
        let answers = self.bot_answers.lock().unwrap_or_else(|p| p.into_inner());
        answers.iter().cloned().collect()
    }

    /// How many HTTP requests have reached the emulated Graph so far.
    pub fn graph_round_trips(&self) -> u64 {
        self.graph_round_trips
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Points the custom-extension relay at a bot built from
    /// [`SimState::bot_settings`], listening at `bot_base_url`.
    pub fn relay_callouts_to(&self, bot_base_url: &str) {
        self.notify.set_relay(
            Some(format!(
                "{}/api/graph/callouts",
                bot_base_url.trim_end_matches('/')
            )),
            Some(SecretString::from(self.callout_secret.clone())),
        );
    }

    /// Points every emulated service that calls the bot (Teams activities,
    /// Slack commands and interactions, custom-extension callouts) at a bot
    /// built from [`SimState::bot_settings`], listening at `bot_base_url`.
    pub fn connect_bot(&self, bot_base_url: &str) {
        let base = bot_base_url.trim_end_matches('/');
        self.relay_callouts_to(base);
        self.teams
            .set_bot_endpoint(Some(format!("{base}/api/teams/messages")));
        let mut slack = self.slack.lock();
        slack.bot.commands = Some(format!("{base}/api/slack/commands"));
        slack.bot.interactions = Some(format!("{base}/api/slack/interactions"));
    }

    /// Locks the world after applying everything due by the emulated now.
    /// Dropping the guard wakes the notification dispatcher if events were
    /// appended meanwhile.
    pub fn world(&self) -> WorldGuard<'_> {
        let mut world = self.world.lock().unwrap_or_else(|p| p.into_inner());
        let events_at_lock = world.events.len();
        world.advance_to(self.clock.now());
        WorldGuard {
            world,
            events_at_lock,
            wake: &self.notify.wake,
            changes: &self.changes,
        }
    }

    pub fn tenant_id(&self) -> String {
        self.tenant_id.clone()
    }

    /// The key Entra signs new tokens with.
    pub fn entra_key(&self) -> Arc<SigningKey> {
        self.entra_keys.current()
    }

    /// Absolute URL of a Graph path (`/users` → `…/graph/v1.0/users`).
    pub fn graph_url(&self, path: &str) -> String {
        format!("{}/graph/v1.0{path}", self.base_url)
    }

    /// The `clientState` the emulated Graph puts in change notifications.
    pub fn intake_client_state(&self) -> &str {
        &self.intake_client_state
    }

    /// The secret the emulated callout relay sends the bot.
    pub fn callout_secret(&self) -> &str {
        &self.callout_secret
    }

    /// The emulated Entra's base (what `login.microsoftonline.com` is).
    pub fn login_base_url(&self) -> String {
        format!("{}/login", self.base_url)
    }
}

/// The locked world; wakes the dispatcher on drop when events were added.
pub struct WorldGuard<'a> {
    world: MutexGuard<'a, World>,
    events_at_lock: usize,
    wake: &'a tokio::sync::Notify,
    changes: &'a tokio::sync::watch::Sender<u64>,
}

impl std::ops::Deref for WorldGuard<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for WorldGuard<'_> {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl Drop for WorldGuard<'_> {
    fn drop(&mut self) {
        if self.world.events.len() != self.events_at_lock {
            self.wake.notify_one();
            // Due work applied on a read (a stage timing out) changes what
            // the console shows, with no write request to notice it.
            self.changes.send_modify(|generation| *generation += 1);
        }
    }
}

fn random_secret() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
}

/// Options of `stagegate sandbox`.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub bind: SocketAddr,
    /// Tenant file contents; the seeded tenant when `None`.
    pub tenant: Option<String>,
    /// stagegate's custom-extension callout endpoint, where the emulated
    /// Logic App relay delivers callouts (`None`: no callouts until
    /// `POST /sim/callouts`).
    pub callout_url: Option<String>,
    /// Shared secret the relay sends in `X-Stagegate-Relay-Secret`.
    pub callout_secret: Option<SecretString>,
    /// Secrets shared with a bot running in another process; random when
    /// `None`.
    pub secrets: Option<FixedSecrets>,
}

/// The secrets the emulators and a bot in another process must agree on,
/// taken from the bot's config file.
#[derive(Clone)]
pub struct FixedSecrets {
    pub slack_bot_token: String,
    pub slack_signing_secret: String,
    pub intake_client_state: String,
    pub callout_secret: String,
}

impl std::fmt::Debug for FixedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedSecrets(..)")
    }
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
        let listener = TcpListener::bind(options.bind).await.map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                ": another program already listens there (another sandbox?). Stop it, \
                     or start this one on other ports: --sim-port 0 --port 0 pick free ones"
            } else {
                ""
            };
            anyhow::anyhow!("cannot listen on {}: {e}{hint}", options.bind)
        })?;
        let addr = listener.local_addr()?;
        let state = SimState::with_secrets(format!("http://{addr}"), world, options.secrets);
        state
            .notify
            .set_relay(options.callout_url, options.callout_secret);
        let router = Router::new()
            .nest("/login", entra::router())
            .nest(
                "/graph/v1.0",
                // Counted outside the Graph router, which `$batch` reuses for
                // its sub-requests, so only real round trips count.
                graph::router(state.clone()).layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    count_graph_round_trip,
                )),
            )
            .nest(
                "/sim",
                control::router()
                    .merge(inspect::router())
                    .merge(notify::control::router())
                    .merge(faults::router())
                    .merge(teams::driver::router()),
            )
            .nest("/slack", slack::router())
            .nest("/sim/slack", slack::driver::router())
            .nest("/botframework", teams::metadata::router())
            .nest("/teams/v3", teams::connector::router())
            .merge(console::router())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                console::touch_after_writes,
            ))
            .with_state(state.clone());
        let router = http::with_layers(router, Duration::from_secs(60));
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

    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let dispatcher = notify::dispatcher::spawn(self.state.clone());
        let closing = self.state.closing.clone();
        let shutdown = async move {
            shutdown.await;
            closing.send_replace(true);
        };
        let result =
            http::serve(self.listener, self.router, shutdown, Duration::from_secs(5)).await;
        dispatcher.abort();
        result
    }
}

async fn count_graph_round_trip(
    axum::extract::State(state): axum::extract::State<SimState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    state
        .graph_round_trips
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    next.run(request).await
}
