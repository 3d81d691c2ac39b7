//! The `stagegate chaos` command line.

use std::path::PathBuf;
use std::time::Duration;

use super::storm::StormOptions;
use super::{ChaosOptions, run};
use crate::load::swarm::Platform;

/// Flags of `stagegate chaos`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Requests in total (half on Teams, half on Slack).
    #[arg(long, default_value_t = 500)]
    pub requests: usize,
    /// Only this platform.
    #[arg(long, value_enum)]
    pub platform: Option<Platform>,
    /// Security approvers (stage 2 group); each gets a card per request.
    #[arg(long, default_value_t = 3)]
    pub approvers: usize,
    /// SIGKILLs of the bot during the run.
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
    /// Seed of the kill plan (same seed, same plan).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Personas acting at once, per platform.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Give up after this many seconds (the default run needs ~40 minutes
    /// of Slack's `chat.update` limit alone).
    #[arg(long, default_value_t = super::DEFAULT_DEADLINE_SECONDS)]
    pub deadline_seconds: u64,
    /// Also inject faults (Graph 429/503/slow/reset, Bot Connector
    /// 429/412/502, Slack ratelimited/internal_error, duplicated and
    /// reordered notifications and callouts) for `--storm-seconds`.
    #[arg(long)]
    pub storm: bool,
    #[arg(long, default_value_t = 60)]
    pub storm_seconds: u64,
    /// Share of calls each storm rule fails.
    #[arg(long, default_value_t = 0.05)]
    pub storm_rate: f64,
    /// Share of Graph change notifications and custom-extension callouts
    /// the storm delivers twice (a redelivery, 1 s after the first attempt).
    #[arg(long, default_value_t = super::storm::DEFAULT_DISORDER_RATE)]
    pub storm_duplicate_rate: f64,
    /// Share of Graph change notifications and custom-extension callouts
    /// the storm holds back behind the next one (at most 3 s).
    #[arg(long, default_value_t = super::storm::DEFAULT_DISORDER_RATE)]
    pub storm_reorder_rate: f64,
    /// The bot's outbox lease (how soon a job the killed process held is retried).
    #[arg(long, default_value_t = 5)]
    pub outbox_lease_seconds: i64,
    /// The bot's poller interval.
    #[arg(long, default_value_t = 5)]
    pub poll_interval_seconds: u64,
    /// Keep the bot's database, config and log here (default: a temporary
    /// directory, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Runs a chaos run, prints the table and the JSON; fails when an
/// invariant failed.
pub async fn run_cli(args: ChaosArgs) -> anyhow::Result<()> {
    let mut options = ChaosOptions::new(std::env::current_exe()?);
    options.requests = args.requests;
    options.platform = args.platform;
    options.approvers = args.approvers;
    options.kills = args.kills;
    options.seed = args.seed;
    options.concurrency = args.concurrency;
    options.deadline = Duration::from_secs(args.deadline_seconds);
    options.dir = args.dir;
    options.outbox_lease_seconds = args.outbox_lease_seconds;
    options.poll_interval_seconds = args.poll_interval_seconds;
    options.storm = args.storm.then(|| StormOptions {
        duration: Duration::from_secs(args.storm_seconds),
        rate: args.storm_rate,
        duplicate_rate: args.storm_duplicate_rate,
        reorder_rate: args.storm_reorder_rate,
        ..StormOptions::default()
    });
    let report = run(options).await?;
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = write!(out, "{}", report.table());
    let _ = writeln!(out, "{}", serde_json::to_string(&report)?);
    if !report.ok() {
        anyhow::bail!("chaos run failed: {}", report.failures.join("; "));
    }
    Ok(())
}
