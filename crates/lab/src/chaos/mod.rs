//! `stagegate chaos`: the emulators in this process, the bot as its own
//! process on a generated tenant, a swarm of personas driving requests
//! through the 2-stage flow on Teams and Slack while the bot is SIGKILLed at
//! planned moments (mid outbox delivery, mid decision relay, mid activation,
//! random) and restarted on the same database. With `--storm` the emulators
//! also inject faults for a period, then stop, and the drain time is
//! measured. The invariants are then read from the emulators' records.

pub mod args;
pub mod killer;
pub mod report;
pub mod storm;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::bench::floor::{self, Counts};
use crate::bot_process::{BotProcess, BotProcessSpec};
use crate::load::swarm::{Platform, Swarm, SwarmOptions, check};
use crate::load::tenant_gen::{TenantSize, tenant_file};
pub use report::ChaosReport;
use stagegate_sandbox::{Sandbox, SandboxOptions};

/// The default run's Slack floor alone is about 40 minutes: every approver
/// is linked on both platforms, so each of ~2,000 cards is retired with a
/// `chat.update`, 50 a minute per workspace (the run prints its floors).
pub const DEFAULT_DEADLINE_SECONDS: u64 = 3600;

/// What a chaos run does.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    /// The `stagegate` executable to run the bot with.
    pub binary: PathBuf,
    /// Requests in total (half on Teams, half on Slack unless `platform`).
    pub requests: usize,
    /// Only this platform (both when `None`).
    pub platform: Option<Platform>,
    /// Security approvers (stage 2); each gets a card per request.
    pub approvers: usize,
    /// SIGKILLs of the bot.
    pub kills: usize,
    /// Seed of the kill plan and the fault storm.
    pub seed: u64,
    /// Personas acting at once, per platform.
    pub concurrency: usize,
    /// Give up after this long.
    pub deadline: Duration,
    /// Inject faults for this long from the start (no storm when `None`).
    pub storm: Option<storm::StormOptions>,
    /// Where the bot's database, config and log go (a temporary directory
    /// when `None`).
    pub dir: Option<PathBuf>,
    /// The bot's outbox lease: after a crash, a job claimed by the dead
    /// process is retried once its lease runs out (60 s by default in
    /// production; shorter here so a run measures more than waiting).
    pub outbox_lease_seconds: i64,
    /// The bot's reconciling poller interval (how soon stage progress and
    /// orphaned work are picked up after a restart).
    pub poll_interval_seconds: u64,
}

impl ChaosOptions {
    pub fn new(binary: PathBuf) -> Self {
        Self {
            binary,
            requests: 500,
            platform: None,
            approvers: 3,
            kills: 10,
            seed: 42,
            concurrency: 16,
            deadline: Duration::from_secs(DEFAULT_DEADLINE_SECONDS),
            storm: None,
            dir: None,
            outbox_lease_seconds: 5,
            poll_interval_seconds: 5,
        }
    }
}

/// Runs the whole thing; the report says whether every invariant held.
pub async fn run(options: ChaosOptions) -> anyhow::Result<ChaosReport> {
    let temp = tempfile::tempdir()?;
    let dir = options
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let size = TenantSize {
        requesters: options.requests.max(1),
        managers: options.requests.div_ceil(10).max(1),
        security_approvers: options.approvers.max(1),
    };
    let sandbox = Sandbox::build(SandboxOptions {
        bind: "127.0.0.1:0".parse()?,
        tenant: Some(tenant_file(size)),
        callout_url: None,
        callout_secret: None,
        secrets: None,
    })
    .await?;
    let state = sandbox.state.clone();
    let (stop_sim, sim_rx) = watch::channel(false);
    let sim = tokio::spawn(sandbox.run_until(async move {
        let mut rx = sim_rx;
        let _ = rx.wait_for(|s| *s).await;
    }));
    let spec = BotProcessSpec::prepare_with(&state, options.binary.clone(), &dir, |settings| {
        settings.engine.outbox_lease_seconds = options.outbox_lease_seconds;
        settings.intake.poll_interval_seconds = options.poll_interval_seconds;
        if let Some(storm) = &options.storm {
            storm.adjust_bot(settings);
        }
    })?;
    let log = dir.join("bot.log");
    let bot = BotProcess::start(&spec, Some(&log)).await?;
    // As an admin would have: the bot is a member of the Teams security
    // channel's team (it is of Slack's security channel from the start).
    stagegate_sandbox::client::SimClient::new(&state.base_url)
        .teams_install_security_channel()
        .await?;

    let started = Instant::now();
    let (stop_killer, killer_rx) = watch::channel(false);
    let killer = tokio::spawn(killer::run(
        state.clone(),
        killer::Victim {
            spec: spec.clone(),
            bot,
            log: Some(log.clone()),
        },
        killer::plan(options.kills, options.seed),
        options.seed,
        started,
        killer_rx,
    ));
    let (swarm_done, swarm_done_rx) = tokio::sync::watch::channel(false);
    let storm = options
        .storm
        .clone()
        .map(|s| tokio::spawn(storm::run(state.clone(), s, options.seed, swarm_done_rx)));

    let swarm = Swarm::new(state.clone());
    let plans = platform_plans(&options, size);
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let swarm = swarm.clone();
            tokio::spawn(async move { swarm.run(&plan).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await?);
    }
    let _ = swarm_done.send(true);
    let _ = stop_killer.send(true);
    let (kills, bot) = killer.await??;
    let storm = match storm {
        Some(task) => Some(task.await?),
        None => None,
    };
    let wall = started.elapsed();
    let platforms = outcomes.iter().map(|o| check(&state, o)).collect();
    let floors = report::Floors {
        teams: floor::teams(&Counts::teams(&state)),
        slack: floor::slack(&Counts::slack(&state)),
    };
    let usage = bot.usage().ok();
    let _ = bot.kill();
    let _ = stop_sim.send(true);
    let _ = sim.await;
    let mut report = ChaosReport::new(
        options.requests,
        platforms,
        kills,
        storm,
        wall,
        usage,
        &outcomes,
    );
    report.floors = Some(floors);
    Ok(report)
}

fn platform_plans(options: &ChaosOptions, size: TenantSize) -> Vec<SwarmOptions> {
    let n = options.requests.max(1);
    let ranges = match options.platform {
        Some(p) => vec![(p, 0..n)],
        None => vec![(Platform::Teams, 0..n / 2), (Platform::Slack, n / 2..n)],
    };
    ranges
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(p, r)| {
            let mut plan = SwarmOptions::for_tenant(p, size, r);
            plan.concurrency = options.concurrency;
            plan.deadline = options.deadline;
            plan
        })
        .collect()
}
