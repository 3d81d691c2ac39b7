//! Fault storms: for a period the emulators answer a share of the bot's
//! calls the way the real services fail — Graph 429 with `Retry-After`, 503,
//! answers slower than the bot's client timeout, connections dropped
//! without an answer; Bot Connector 429, 412,
//! 502; Slack `ratelimited` and `internal_error`; Graph change notifications
//! and custom-extension callouts duplicated (redelivered) and reordered —
//! then the faults stop and the run measures how long the bot takes to drain
//! what piled up.

use std::time::{Duration, Instant};

use serde::Serialize;

use stagegate_sandbox::SimState;
use stagegate_sandbox::faults::RuleSpec;

/// Default share of notifications and callouts duplicated, and reordered:
/// high enough that a small storm (a dozen requests, seconds long) has some.
pub const DEFAULT_DISORDER_RATE: f64 = 0.25;
/// A duplicate arrives this long after the original's first attempt (emulated
/// time, which runs at wall speed in a chaos run).
const REDELIVERY_MS: u64 = 1_000;
/// Longest a held-back notification or callout waits for the next one.
const HOLD_MS: u64 = 3_000;

/// How hard and how long the storm blows.
#[derive(Debug, Clone)]
pub struct StormOptions {
    /// How long faults are injected, from the start of the run.
    pub duration: Duration,
    /// Share of matching calls each rule fails (0..1).
    pub rate: f64,
    /// The bot's Graph client timeout during the run; slow answers take
    /// one second longer.
    pub graph_timeout_seconds: u64,
    /// Share of change notifications and callouts delivered twice.
    pub duplicate_rate: f64,
    /// Share of change notifications and callouts held back behind the
    /// next one.
    pub reorder_rate: f64,
}

impl Default for StormOptions {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(60),
            rate: 0.05,
            graph_timeout_seconds: 3,
            duplicate_rate: DEFAULT_DISORDER_RATE,
            reorder_rate: DEFAULT_DISORDER_RATE,
        }
    }
}

impl StormOptions {
    /// A short Graph timeout, so "slower than the client waits" costs
    /// seconds, not half a minute, per slow answer.
    pub fn adjust_bot(&self, settings: &mut stagegate::config::Settings) {
        settings.graph.timeout_seconds = self.graph_timeout_seconds;
    }

    fn rules(&self) -> Vec<RuleSpec> {
        let rule =
            |service: &str, path: &str, status: Option<u16>, retry_after, delay_ms, p| RuleSpec {
                service: service.into(),
                path: path.into(),
                method: None,
                status,
                retry_after,
                delay_ms,
                count: None,
                probability: Some(p),
                reset: false,
                duplicate: false,
                reorder: false,
            };
        let r = self.rate;
        let slow = (self.graph_timeout_seconds + 1) * 1000;
        let mut rules = vec![
            rule("graph", "/", Some(429), Some(1), None, r),
            rule("graph", "/", Some(503), None, None, r),
            rule("graph", "/", None, None, Some(slow), r / 4.0),
            RuleSpec {
                reset: true,
                ..rule("graph", "/", None, None, None, r / 2.0)
            },
            rule("teams", "/", Some(429), Some(1), None, r),
            rule("teams", "/", Some(412), None, None, r / 2.0),
            rule("teams", "/", Some(502), None, None, r / 2.0),
            rule("slack", "/", Some(429), Some(1), None, r),
            rule("slack", "/", Some(500), None, None, r / 2.0),
        ];
        for service in stagegate_sandbox::faults::DELIVERY_SERVICES {
            rules.push(RuleSpec {
                duplicate: true,
                ..rule(
                    service,
                    "/",
                    None,
                    None,
                    Some(REDELIVERY_MS),
                    self.duplicate_rate,
                )
            });
            rules.push(RuleSpec {
                reorder: true,
                ..rule(service, "/", None, None, Some(HOLD_MS), self.reorder_rate)
            });
        }
        rules
    }
}

/// What the storm did.
#[derive(Debug, Clone, Serialize)]
pub struct StormFigures {
    pub storm_seconds: f64,
    pub rate: f64,
    /// Faults injected, per service (Graph, Teams, Slack answers).
    pub injected: std::collections::BTreeMap<String, u64>,
    pub duplicate_rate: f64,
    pub reorder_rate: f64,
    /// Notifications and callouts disordered, per `"{service} {kind}"`
    /// (`callouts duplicate`, `notifications reorder`, …).
    pub disordered: std::collections::BTreeMap<String, u64>,
}

/// Injects faults for `options.duration`, then stops the failures. The
/// duplicating and reordering go on until each of their rules has fired at
/// least once or the swarm is done (`swarm_done`), so a storm that happened
/// to blow while nothing was delivered still disorders something.
pub async fn run(
    state: SimState,
    options: StormOptions,
    seed: u64,
    mut swarm_done: tokio::sync::watch::Receiver<bool>,
) -> StormFigures {
    let started = Instant::now();
    state.faults.clear_with_seed(seed);
    for rule in options.rules() {
        if let Err(e) = state.faults.add(rule) {
            tracing::warn!(error = %e, "a storm rule was refused");
        }
    }
    tokio::time::sleep(options.duration).await;
    let disorders = |r: &stagegate_sandbox::faults::Rule| r.duplicate || r.reorder;
    let mut injected = std::collections::BTreeMap::new();
    for rule in state.faults.rules().iter().filter(|r| !disorders(r)) {
        *injected.entry(rule.service.clone()).or_insert(0) += rule.hits;
    }
    state.faults.retain(disorders);
    let storm_seconds = started.elapsed().as_secs_f64();
    let mut fired = state.faults.fired();
    while state.faults.rules().iter().any(|r| r.hits == 0) && !*swarm_done.borrow() {
        tokio::select! {
            changed = fired.changed() => if changed.is_err() { break },
            changed = swarm_done.changed() => if changed.is_err() { break },
        }
    }
    let mut disordered = std::collections::BTreeMap::new();
    for rule in state.faults.rules() {
        let kind = if rule.duplicate {
            "duplicate"
        } else {
            "reorder"
        };
        *disordered
            .entry(format!("{} {kind}", rule.service))
            .or_insert(0) += rule.hits;
    }
    state.faults.clear();
    StormFigures {
        storm_seconds,
        rate: options.rate,
        injected,
        duplicate_rate: options.duplicate_rate,
        reorder_rate: options.reorder_rate,
        disordered,
    }
}
