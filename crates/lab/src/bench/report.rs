//! The bench report: figures, the targets they are held against, and the
//! table `stagegate bench` prints (`--json` prints the report itself).

use std::fmt::Write as _;

use serde::Serialize;

use super::BenchOptions;
use super::fanout::FanoutFigures;
use super::inbound::{EndpointFigures, LoadRun};
use super::latency::LatencyFigures;
use super::startup::StartupFigures;

/// Everything one `stagegate bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub machine: Machine,
    pub options: BenchOptions,
    pub startup: StartupFigures,
    pub inbound: Vec<EndpointFigures>,
    pub fanout: Vec<FanoutFigures>,
    pub targets: Vec<Target>,
}

/// Where the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    /// `release` or `debug`: debug figures say nothing about the targets.
    pub build: &'static str,
}

/// One target and whether this run met it (`None`: not measured at the
/// target's conditions).
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub pass: Option<bool>,
}

impl BenchReport {
    #[must_use]
    pub fn new(
        options: BenchOptions,
        startup: StartupFigures,
        inbound: Vec<EndpointFigures>,
        fanout: Vec<FanoutFigures>,
    ) -> Self {
        let mut report = Self {
            machine: Machine {
                cores: std::thread::available_parallelism().map_or(1, usize::from),
                build: if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                },
            },
            options,
            startup,
            inbound,
            fanout,
            targets: Vec::new(),
        };
        report.targets = report.check_targets();
        report
    }

    fn endpoint(&self, path: &str) -> Option<&EndpointFigures> {
        self.inbound.iter().find(|e| e.endpoint.contains(path))
    }

    fn check_targets(&self) -> Vec<Target> {
        let mut targets = vec![
            Target {
                name: "ready on a fresh database (median)".into(),
                target: "< 300 ms".into(),
                measured: format!("{:.0} ms", self.startup.ready_median_ms),
                pass: Some(self.startup.ready_median_ms < 300.0),
            },
            Target {
                name: "idle RSS".into(),
                target: "< 30 MB".into(),
                measured: format!("{:.1} MB", self.startup.idle_rss_mb),
                pass: Some(self.startup.idle_rss_mb < 30.0),
            },
        ];
        let teams = self.endpoint("/api/teams/");
        targets.push(Target {
            name: "Teams JWT activities at saturation".into(),
            target: ">= 5000 req/s".into(),
            measured: teams.map_or("not run".into(), |t| {
                format!("{:.0} req/s", t.saturation.rate)
            }),
            pass: teams.map(|t| t.saturation.rate >= 5000.0),
        });
        targets.push(fixed_rate_target(
            "Slack commands + interactions p99",
            self.endpoint("/api/slack/"),
            500.0,
            20.0,
        ));
        targets.push(fixed_rate_target(
            "Graph notifications p99",
            self.endpoint("/api/graph/"),
            1000.0,
            10.0,
        ));
        if !self.inbound.is_empty() {
            let failed: u64 = self
                .inbound
                .iter()
                .flat_map(|e| std::iter::once(&e.saturation).chain(e.fixed.as_ref()))
                .map(|r| r.failed)
                .sum();
            targets.push(Target {
                name: "inbound requests refused or failed".into(),
                target: "0".into(),
                measured: failed.to_string(),
                pass: Some(failed == 0),
            });
        }
        targets.extend(self.fanout_targets());
        targets
    }

    fn fanout_targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        for f in &self.fanout {
            let p = format!("{:?}", f.platform);
            out.push(Target {
                name: format!("{p} fan-out time vs rate-limit floor"),
                target: "<= 1.2x".into(),
                measured: f.ratio.map_or_else(
                    || format!("{:.1} s, floor 0 s", f.seconds),
                    |r| format!("{r:.2}x ({:.1} s / {:.1} s)", f.seconds, f.floor.seconds),
                ),
                pass: f.ratio.map(|r| r <= 1.2),
            });
            out.push(Target {
                name: format!("{p} 429s from the emulated platform"),
                target: "0".into(),
                measured: f.throttled.to_string(),
                pass: Some(f.throttled == 0),
            });
            out.push(Target {
                name: format!("{p} lost or duplicated cards"),
                target: "0".into(),
                measured: format!(
                    "{} duplicated, {} lost decisions, {} live left",
                    f.duplicate_cards, f.lost_decisions, f.live_cards_left
                ),
                pass: Some(f.complete()),
            });
            out.push(Target {
                name: format!("{p} peak RSS during fan-out"),
                target: "< 150 MB".into(),
                measured: format!("{:.1} MB", f.bot_peak_rss_mb),
                pass: Some(f.bot_peak_rss_mb < 150.0),
            });
        }
        out
    }

    /// The human-readable table.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "stagegate bench — {} cores, {} build{}",
            self.machine.cores,
            self.machine.build,
            if self.machine.build == "debug" {
                " (figures not comparable with the targets)"
            } else {
                ""
            }
        );
        let _ = writeln!(out);
        let ready: Vec<String> = self
            .startup
            .ready_ms
            .iter()
            .map(|ms| format!("{ms:.0}"))
            .collect();
        let _ = writeln!(
            out,
            "start-up: ready after {:.0} ms (median of {} runs: {} ms); idle RSS {:.1} MB (settled after {:.1} s)",
            self.startup.ready_median_ms,
            ready.len(),
            ready.join(", "),
            self.startup.idle_rss_mb,
            self.startup.settled_after_ms / 1000.0
        );
        if !self.inbound.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{:<42} {:>10} {:>9} {:>8} {:>8} {:>8} {:>7} {:>12}",
                "inbound endpoint / run",
                "rate",
                "requests",
                "p50 ms",
                "p99 ms",
                "max ms",
                "failed",
                "CPU s/1k req"
            );
            for e in &self.inbound {
                let _ = writeln!(out, "{}  ({})", e.endpoint, e.request);
                write_run(&mut out, "  saturation", &e.saturation);
                if let Some(f) = &e.fixed {
                    let label = format!("  fixed {:.0} req/s", f.target_rate.unwrap_or_default());
                    write_run(&mut out, &label, f);
                }
                let _ = writeln!(
                    out,
                    "  bot RSS after: {:.1} MB, peak so far {:.1} MB",
                    e.bot_rss_mb, e.bot_peak_rss_mb
                );
            }
        }
        for f in &self.fanout {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "fan-out {:?}: {} requests in {:.1} s; floor {:.1} s ({}; {} posts + {} updates); ratio {}",
                f.platform,
                f.requests,
                f.seconds,
                f.floor.seconds,
                f.floor.binding,
                f.floor.posts,
                f.floor.updates,
                f.ratio.map_or("n/a".into(), |r| format!("{r:.2}x"))
            );
            let _ = writeln!(
                out,
                "  delivered {}/{}; 429s {}; Graph calls/request {:.1}; bot CPU {:.2} s per 1,000 requests; peak RSS {:.1} MB",
                f.delivered,
                f.requests,
                f.throttled,
                f.graph_calls_per_request,
                f.bot_cpu_s_per_1k_requests,
                f.bot_peak_rss_mb
            );
            write_latency(&mut out, &f.latency);
            for e in &f.sample_errors {
                let _ = writeln!(out, "  error: {e}");
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<42} {:<14} {:<28} result",
            "target", "wanted", "measured"
        );
        for t in &self.targets {
            let result = match t.pass {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "n/a",
            };
            let _ = writeln!(
                out,
                "{:<42} {:<14} {:<28} {result}",
                t.name, t.target, t.measured
            );
        }
        out
    }
}

/// The two latency figures (nearest-rank percentiles), and what could not
/// be matched when anything could not.
fn write_latency(out: &mut String, l: &LatencyFigures) {
    let _ = writeln!(
        out,
        "  request visible (created in Graph) → first approver card posted: {}",
        l.request_to_first_card.show()
    );
    let _ = writeln!(
        out,
        "  approver clicks → every card of the stage updated: {}",
        l.click_to_cards_updated.show()
    );
    let _ = writeln!(
        out,
        "    click → decision in Graph: {}; Graph → every card updated: {}",
        l.click_to_graph.show(),
        l.graph_to_cards_updated.show()
    );
    if l.requests_without_card > 0 || l.stages_unmatched > 0 {
        let _ = writeln!(
            out,
            "    not measured: {} requests without a card, {} of {} decided stages without a click before the decision or an update after it",
            l.requests_without_card, l.stages_unmatched, l.decided_stages
        );
    }
}

fn write_run(out: &mut String, label: &str, run: &LoadRun) {
    let _ = writeln!(
        out,
        "{:<42} {:>6.0}/s {:>9} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>12.3}",
        label,
        run.rate,
        run.requests,
        run.p50_ms,
        run.p99_ms,
        run.max_ms,
        run.failed,
        run.bot_cpu_s_per_1k
    );
}

/// p99 under `limit_ms` at `rate`; unjudged when the run was at another
/// rate (`--small`) or fell more than 5 % short of it.
fn fixed_rate_target(
    name: &str,
    endpoint: Option<&EndpointFigures>,
    rate: f64,
    limit_ms: f64,
) -> Target {
    let run = endpoint.and_then(|e| e.fixed.as_ref());
    let at_rate = run.is_some_and(|r| r.target_rate == Some(rate) && r.rate >= rate * 0.95);
    Target {
        name: format!("{name} at {rate:.0} req/s"),
        target: format!("< {limit_ms:.0} ms"),
        measured: run.map_or("not run".into(), |r| {
            format!("{:.2} ms at {:.0} req/s", r.p99_ms, r.rate)
        }),
        pass: run.filter(|_| at_rate).map(|r| r.p99_ms < limit_ms),
    }
}
