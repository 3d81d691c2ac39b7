//! `stagegate bench`: documented benchmark commands that print figures
//! (never timed assertions in tests). The emulators run in this process; the
//! bot runs as its own process so its CPU and memory are measured alone.
//!
//! - [`startup`]: spawn → `/readyz` on a fresh database, idle RSS.
//! - [`inbound`]: Teams, Slack and Graph endpoints under `wrk`.
//! - [`fanout`]: every requester of a generated tenant at once, end to end,
//!   against the rate-limit [`floor`].
//!
//! [`report`] holds the targets and prints the table.

pub mod cli;
pub mod fanout;
pub mod floor;
pub mod harness;
pub mod inbound;
pub mod latency;
pub mod report;
pub mod requests;
pub mod startup;

use std::path::PathBuf;

use serde::Serialize;

use crate::load::swarm::Platform;

pub use report::{BenchReport, Target};

/// Sizes and durations of a bench run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOptions {
    /// Start-up runs (the median is reported).
    pub startup_runs: usize,
    pub inbound: inbound::InboundOptions,
    /// Skip the inbound endpoints (no `wrk` needed).
    pub skip_inbound: bool,
    /// `None`: no fan-out.
    pub fanout: Option<fanout::FanoutOptions>,
}

impl BenchOptions {
    /// The full run (about two minutes on 2 cores).
    #[must_use]
    pub fn full() -> Self {
        Self {
            startup_runs: 7,
            inbound: inbound::InboundOptions {
                seconds: 10.0,
                connections: 32,
                threads: 1,
                slack_rate: 500.0,
                graph_rate: 1000.0,
                fixed_connections: 16,
                slack_pool: 60_000,
            },
            skip_inbound: false,
            fanout: Some(fanout::FanoutOptions {
                requesters: 2_000,
                managers: 200,
                security_approvers: 20,
                platforms: vec![Platform::Teams, Platform::Slack],
                concurrency: 64,
                deadline_seconds: 4 * 3600,
            }),
        }
    }

    /// Seconds, for CI: every figure is produced, none is meaningful.
    #[must_use]
    pub fn small() -> Self {
        Self {
            startup_runs: 2,
            inbound: inbound::InboundOptions {
                seconds: 1.0,
                connections: 4,
                threads: 1,
                slack_rate: 50.0,
                graph_rate: 100.0,
                fixed_connections: 2,
                slack_pool: 1_000,
            },
            skip_inbound: false,
            fanout: Some(fanout::FanoutOptions {
                requesters: 2,
                managers: 1,
                security_approvers: 2,
                platforms: vec![Platform::Teams, Platform::Slack],
                concurrency: 8,
                deadline_seconds: 300,
            }),
        }
    }
}

/// Runs every benchmark with `binary` as the bot (`stagegate` itself from
/// the CLI; the test build's binary in tests).
pub async fn run(binary: PathBuf, options: BenchOptions) -> anyhow::Result<BenchReport> {
    let emulators = harness::Emulators::start(None).await?;
    let startup = startup::measure(&emulators, &binary, options.startup_runs).await?;
    let inbound = if options.skip_inbound {
        Vec::new()
    } else {
        inbound::measure(&emulators, &binary, &options.inbound).await?
    };
    emulators.stop().await?;
    let fanout = match &options.fanout {
        Some(f) => fanout::measure(&binary, f).await?,
        None => Vec::new(),
    };
    Ok(BenchReport::new(options, startup, inbound, fanout))
}
