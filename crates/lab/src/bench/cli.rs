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
    /// Skip the end-to-end fan-out.
    #[arg(long)]
    pub skip_fanout: bool,
    /// Fan-out: requesters of the generated tenant (each submits one request).
    #[arg(long)]
    pub requesters: Option<usize>,
    /// Fan-out: managers (stage 1 approvers).
    #[arg(long)]
    pub managers: Option<usize>,
    /// Fan-out: security approvers (stage 2).
    #[arg(long)]
    pub security_approvers: Option<usize>,
    /// Fan-out on one platform only (default: Teams, then Slack).
    #[arg(long, value_enum)]
    pub platform: Option<crate::load::swarm::Platform>,
    /// Fan-out: personas acting at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Fan-out: give up after this many seconds.
    #[arg(long)]
    pub deadline: Option<u64>,
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
        if self.skip_fanout {
            o.fanout = None;
        }
        if let Some(f) = &mut o.fanout {
            f.requesters = self.requesters.unwrap_or(f.requesters);
            f.managers = self.managers.unwrap_or(f.managers);
            f.security_approvers = self.security_approvers.unwrap_or(f.security_approvers);
            f.concurrency = self.concurrency.unwrap_or(f.concurrency);
            f.deadline_seconds = self.deadline.unwrap_or(f.deadline_seconds);
            if let Some(p) = self.platform {
                f.platforms = vec![p];
            }
        }
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
