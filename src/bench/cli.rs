//! `stagegate bench` flags.

use clap::Args;

use super::{BenchOptions, run as run_bench};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// A run of seconds (CI): every figure is produced, none is meaningful.
    #[arg(long)]
    pub small: bool,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Start-up runs (the median is reported).
    #[arg(long)]
    pub startup_runs: Option<usize>,
    /// Length of each load run, seconds.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Connections of a saturation run.
    #[arg(long)]
    pub connections: Option<u32>,
    /// wrk threads.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Fixed rate of the Slack run, requests per second.
    #[arg(long)]
    pub slack_rate: Option<f64>,
    /// Fixed rate of the Graph notification run, requests per second.
    #[arg(long)]
    pub graph_rate: Option<f64>,
    /// Pre-signed Slack requests for the saturation run (each used once).
    #[arg(long)]
    pub slack_pool: Option<usize>,
    /// Skip the inbound endpoints (no `wrk` needed).
    #[arg(long)]
    pub skip_inbound: bool,
}

impl BenchArgs {
    #[must_use]
    pub fn options(&self) -> BenchOptions {
        let mut o = if self.small {
            BenchOptions::small()
        } else {
            BenchOptions::full()
        };
        let i = &mut o.inbound;
        o.startup_runs = self.startup_runs.unwrap_or(o.startup_runs);
        i.seconds = self.seconds.unwrap_or(i.seconds);
        i.connections = self.connections.unwrap_or(i.connections);
        i.threads = self.threads.unwrap_or(i.threads);
        i.slack_rate = self.slack_rate.unwrap_or(i.slack_rate);
        i.graph_rate = self.graph_rate.unwrap_or(i.graph_rate);
        i.slack_pool = self.slack_pool.unwrap_or(i.slack_pool);
        o.skip_inbound = self.skip_inbound;
        o
    }
}

/// The bot under test is this very executable (`stagegate serve`).
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?;
    let report = run_bench(binary, args.options()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
