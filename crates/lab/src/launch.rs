//! The sandbox and the bot started together in one process: what
//! `stagegate sandbox` runs, and what scenarios, the console's browser test,
//! benchmarks and chaos runs start when they need the whole product.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use stagegate::app::{AppOptions, Application};
use stagegate_sandbox::{Sandbox, SandboxOptions, SimState};

use crate::wiring::BotWiring;

/// What to start.
#[derive(Debug, Clone)]
pub struct LaunchOptions {
    /// Port of the bot (0 = any free port).
    pub bot_port: u16,
    /// Port of the emulators and the console (0 = any free port).
    pub sim_port: u16,
    /// SQLite database of the bot; created if missing.
    pub db: PathBuf,
    /// Tenant file contents; the seeded tenant when `None`.
    pub tenant: Option<String>,
    /// Apply `STAGEGATE_*` environment overrides to the bot's settings
    /// (the CLI does; tests do not, so the environment cannot change them).
    pub env_overrides: bool,
    /// Seconds between the bot's reconciling polls (the sandbox's config
    /// when `None`); scenarios poll every second so decisions made in Graph
    /// and automatic denials reach chat quickly.
    pub poll_interval_seconds: Option<u64>,
}

impl LaunchOptions {
    /// Both servers on free loopback ports, the seeded tenant, `db` as the
    /// bot's database: what tests and tools use.
    pub fn ephemeral(db: PathBuf) -> Self {
        Self {
            bot_port: 0,
            sim_port: 0,
            db,
            tenant: None,
            env_overrides: false,
            poll_interval_seconds: None,
        }
    }
}

/// The emulators and the bot, running.
pub struct Launched {
    /// The emulators' shared state (world, clock, chats, records).
    pub state: SimState,
    /// `http://127.0.0.1:<sim port>`: emulators, `/sim` and the console.
    pub sim_url: String,
    /// `http://127.0.0.1:<bot port>`.
    pub bot_url: String,
    /// The bot's `/metrics` (its own listener, on a free port).
    pub metrics_url: Option<String>,
    stop_bot: watch::Sender<bool>,
    stop_sim: watch::Sender<bool>,
    bot: JoinHandle<std::io::Result<()>>,
    sim: JoinHandle<std::io::Result<()>>,
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

impl Launched {
    /// Binds both servers, connects the emulated Teams, Slack and Logic App
    /// relay to the bot, and starts serving.
    pub async fn start(options: LaunchOptions) -> anyhow::Result<Self> {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let sandbox = Sandbox::build(SandboxOptions {
            bind: SocketAddr::new(loopback, options.sim_port),
            tenant: options.tenant,
            callout_url: None,
            callout_secret: None,
            secrets: None,
        })
        .await?;
        let mut settings =
            sandbox.bot_settings(SocketAddr::new(loopback, options.bot_port), options.db);
        if let Some(seconds) = options.poll_interval_seconds {
            settings.intake.poll_interval_seconds = seconds;
        }
        if options.env_overrides {
            settings = settings.with_env_overrides(std::env::vars())?;
        }
        // The bot follows the sandbox's emulated clock (reminders, escalation).
        let clock = sandbox.state.bot_clock();
        let app = Application::build_with(
            settings,
            AppOptions {
                ports: Vec::new(),
                clock: std::sync::Arc::new(clock),
            },
        )
        .await?;
        let bot_url = format!("http://127.0.0.1:{}", app.port());
        let metrics_url = app.metrics_addr().map(|a| format!("http://{a}/metrics"));
        let sim_url = sandbox.base_url().to_string();
        let state = sandbox.state.clone();
        state.connect_bot(&bot_url);
        let (stop_bot, bot_rx) = watch::channel(false);
        let (stop_sim, sim_rx) = watch::channel(false);
        let sim = tokio::spawn(sandbox.run_until(stopped(sim_rx)));
        let bot = tokio::spawn(app.run_until(stopped(bot_rx)));
        install_in_security_team(&sim_url).await;
        Ok(Self {
            state,
            sim_url,
            bot_url,
            metrics_url,
            stop_bot,
            stop_sim,
            bot,
            sim,
        })
    }

    /// Stops the bot first (so it does not see its upstreams vanish
    /// mid-request), then the emulators.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop_bot.send(true);
        let bot = self.bot.await;
        let _ = self.stop_sim.send(true);
        let sim = self.sim.await;
        bot??;
        sim??;
        Ok(())
    }
}

/// The seeded state a newcomer expects: the bot is installed in the team of
/// the Teams security channel (as an admin would have done), so alerts reach
/// it from the start, as they reach Slack's `#stagegate-security`, where the
/// bot is a member. Installing is what Teams does: a signed
/// `conversationUpdate` to the bot. A failure only costs Teams alerts.
async fn install_in_security_team(sim_url: &str) {
    let url = format!(
        "{sim_url}/sim/teams/channels/{}/install",
        stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID
    );
    let installed = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .map(|r| r.status().is_success());
    if !matches!(installed, Ok(true)) {
        tracing::warn!("could not install the bot in the Teams security channel's team");
    }
}
