//! `stagegate bench`: documented benchmark commands that print figures
//! (never timed assertions in tests). The emulators run in this process; the
//! bot runs as its own process so its CPU and memory are measured alone.
//!
//! - [`startup`]: spawn → `/readyz` on a fresh database, idle RSS.
//! - [`inbound`]: Teams, Slack and Graph endpoints under `wrk`.
//!
//! [`report`] holds the targets and prints the table.

pub mod cli;
pub mod harness;
pub mod inbound;
pub mod report;
pub mod requests;
pub mod startup;

use std::path::PathBuf;

use serde::Serialize;

pub use report::{BenchReport, Target};

/// Sizes and durations of a bench run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOptions {
    /// Start-up runs (the median is reported).
    pub startup_runs: usize,
    pub inbound: inbound::InboundOptions,
    /// Skip the inbound endpoints (no `wrk` needed).
    pub skip_inbound: bool,
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
    Ok(BenchReport::new(options, startup, inbound))
}
