//! The lab's command line: the production commands (`serve`, `manifest`)
//! plus `sandbox` (with `--scenario`), `chaos` and `bench`. What
//! `cargo run --release -- …` runs from the repository root.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::launch::{LaunchOptions, Launched};
use crate::wiring::{BotWiring, fixed_secrets};
use stagegate::config::{LogFormat, Settings};
use stagegate_sandbox::{Sandbox, SandboxOptions, SimState};

#[derive(Debug, Parser)]
#[command(
    name = "stagegate",
    version,
    about = "Entra multi-stage approval of privileged roles, in Teams and Slack (with the sandbox and the lab)"
)]
pub struct Cli {
    /// Log output: human-readable, or one JSON object per line.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Production(stagegate::cli::Command),
    /// Run the bot together with emulated Entra, Graph, Teams and Slack on loopback.
    Sandbox {
        /// Port of the bot (0 = any free port).
        #[arg(long, default_value_t = 3978)]
        port: u16,
        /// Port of the emulators and the console (0 = any free port).
        #[arg(long, default_value_t = 3979)]
        sim_port: u16,
        /// SQLite database of the bot; created if missing.
        #[arg(long, default_value = "stagegate-sandbox.db")]
        db: PathBuf,
        /// Tenant file to seed the emulators with (default: the seeded tenant).
        #[arg(long)]
        tenant: Option<PathBuf>,
        /// Run only the emulators (Entra, Graph, Teams, Slack and `/sim`);
        /// the bot runs on its own with `stagegate serve --config` on the
        /// same config file.
        #[arg(long)]
        emulators_only: bool,
        /// With `--emulators-only`: the bot's config file, whose secrets the
        /// emulators share and whose `server.public_base_url` they deliver to.
        #[arg(long, default_value = "sandbox/stagegate.sandbox.toml")]
        config: PathBuf,
        /// Run a scripted scenario and exit: `list`, a shipped scenario's
        /// name (`seed`), or a scenario file (`path/to/file.toml`). Exits 0
        /// when every expectation holds, 2 with the failing step otherwise.
        #[arg(long, value_name = "NAME|FILE|list", conflicts_with = "emulators_only")]
        scenario: Option<String>,
    },
    /// Crash-restart chaos (and `--storm` fault storms) against the
    /// emulators, with the bot as its own process; see the README.
    Chaos(crate::chaos::args::ChaosArgs),
    /// Measure start-up, memory and the inbound endpoints under load
    /// (build with `--release`; see README "Benchmarks").
    Bench(crate::bench::cli::BenchArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Production(command) => stagegate::cli::run(command, cli.log_format).await,
        Command::Sandbox {
            port,
            sim_port,
            db,
            tenant,
            emulators_only,
            config,
            scenario,
        } => {
            if scenario.as_deref() == Some("list") {
                return list_scenarios();
            }
            let filter = if scenario.is_some() { "warn" } else { "info" };
            stagegate::telemetry::init(cli.log_format.unwrap_or_default(), filter);
            let tenant = match tenant {
                Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                    anyhow::anyhow!("cannot read tenant file {}: {e}", path.display())
                })?),
                None => None,
            };
            if emulators_only {
                return run_emulators(sim_port, &config, tenant).await;
            }
            if let Some(scenario) = scenario {
                return run_scenario(&scenario, port, sim_port, db, tenant).await;
            }
            run_sandbox(port, sim_port, db, tenant).await
        }
        Command::Bench(args) => crate::bench::cli::run(args).await,
        Command::Chaos(args) => {
            // The emulators' injected 5xx would flood the trace layer's log.
            stagegate::telemetry::init(cli.log_format.unwrap_or_default(), "warn,tower_http=off");
            crate::chaos::args::run_cli(args).await
        }
    }
}

async fn run_sandbox(
    port: u16,
    sim_port: u16,
    db: PathBuf,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    let launched = Launched::start(LaunchOptions {
        bot_port: port,
        sim_port,
        db,
        tenant,
        env_overrides: true,
        poll_interval_seconds: None,
    })
    .await?;
    // The bot joins the security channel's team, so alerts reach Teams at
    // once. People install the app by writing to the bot, or the bot
    // installs it for them through Graph when their first card goes out.
    stagegate_sandbox::console::install_chat_apps(&launched.state).await?;
    // Listen for Ctrl-C / SIGTERM before announcing the addresses.
    let stop = stagegate::http::shutdown_signal();
    print_banner(
        &launched.state,
        &launched.bot_url,
        launched.metrics_url.as_deref(),
    );
    stop.await;
    launched.stop().await
}

/// The emulators alone, sharing the secrets of the bot's config file, for a
/// bot running as its own process (the production topology).
async fn run_emulators(
    sim_port: u16,
    config: &std::path::Path,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    let settings = Settings::load(Some(config))?;
    let sandbox = emulators_for(&settings, sim_port, tenant).await?;
    let stop = stagegate::http::shutdown_signal();
    print_banner(
        &sandbox.state,
        &format!(
            "{}  (not started here: stagegate serve --config {})",
            settings.server.public_base_url,
            config.display()
        ),
        None,
    );
    Ok(sandbox.run_until(stop).await?)
}

/// The emulators for a bot running as its own process on `settings` (the
/// production topology): they share its secrets and deliver to its
/// `server.public_base_url`.
pub async fn emulators_for(
    settings: &Settings,
    sim_port: u16,
    tenant: Option<String>,
) -> anyhow::Result<Sandbox> {
    let sandbox = Sandbox::build(SandboxOptions {
        bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), sim_port),
        tenant,
        callout_url: None,
        callout_secret: None,
        secrets: Some(fixed_secrets(settings)?),
    })
    .await?;
    sandbox.state.check_bot_config(settings)?;
    sandbox.state.connect_bot(&settings.server.public_base_url);
    Ok(sandbox)
}

/// Like `println!`, but a closed stdout (a pipe whose reader went away)
/// must not bring the server down.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

fn print_banner(state: &SimState, bot_url: &str, metrics_url: Option<&str>) {
    let base = state.base_url.clone();
    let world = state.world();
    out!("stagegate sandbox is running (Ctrl-C to stop)");
    out!();
    out!("  console              {base}/   <- open this in a browser");
    out!("  bot                  {bot_url}  (/healthz, /readyz)");
    if let Some(metrics) = metrics_url {
        out!("  bot metrics          {metrics}");
    }
    out!(
        "  Entra sign-in        {base}/login/{}/v2.0/.well-known/openid-configuration",
        world.tenant_id
    );
    out!("  Microsoft Graph      {base}/graph/v1.0");
    out!("  sandbox control      {base}/sim/tenant, {base}/sim/clock, {base}/sim/tokens");
    out!();
    out!("  tenant {} ({})", world.tenant_id, world.domain);
    out!("  personas:");
    let mut users: Vec<_> = world.users.values().collect();
    users.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    for user in users {
        let state = if user.account_enabled {
            ""
        } else {
            "  [disabled]"
        };
        out!(
            "    {:<8} {:<18} {:<30} {}{state}",
            user.key,
            user.display_name,
            user.user_principal_name,
            user.job_title.as_deref().unwrap_or("")
        );
    }
    out!("  access packages:");
    for package in world.access_packages.values() {
        let hidden = if package.is_hidden { "  [hidden]" } else { "" };
        out!("    {:<18} {}{hidden}", package.key, package.display_name);
    }
    out!();
}

/// `--scenario list`: every shipped scenario with its description.
fn list_scenarios() -> anyhow::Result<()> {
    for scenario in crate::scenario::shipped()? {
        let platforms: Vec<&str> = scenario.platforms.iter().map(|p| p.name()).collect();
        out!(
            "{:<18} {}  [{}]",
            scenario.name,
            scenario.description,
            platforms.join(", ")
        );
    }
    Ok(())
}

/// `--scenario NAME|FILE`: runs it on a fresh sandbox per platform,
/// printing the transcript; an error (exit 2) names the failing step.
async fn run_scenario(
    name_or_path: &str,
    port: u16,
    sim_port: u16,
    db: PathBuf,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    let loaded = crate::scenario::load(name_or_path)?;
    let setup = crate::scenario::Setup {
        bot_port: port,
        sim_port,
        db_for: crate::scenario::fresh_db_beside,
        db,
        tenant,
        timeout: crate::scenario::STEP_TIMEOUT,
    };
    let mut stdout = std::io::stdout();
    crate::scenario::run(&loaded, &setup, &mut stdout).await?;
    Ok(())
}
