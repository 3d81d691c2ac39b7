//! Fault storms: for a period the emulators answer a share of the bot's
//! calls the way the real services fail — Graph 429 with `Retry-After`, 503,
//! answers slower than the bot's client timeout, connections dropped
//! without an answer; Bot Connector 429, 412,
//! 502; Slack `ratelimited` and `internal_error` — then the faults stop and
//! the run measures how long the bot takes to drain what piled up.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::sandbox::SimState;
use crate::sandbox::faults::RuleSpec;

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
}

impl Default for StormOptions {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(60),
            rate: 0.05,
            graph_timeout_seconds: 3,
        }
    }
}

impl StormOptions {
    /// A short Graph timeout, so "slower than the client waits" costs
    /// seconds, not half a minute, per slow answer.
    pub fn adjust_bot(&self, settings: &mut crate::config::Settings) {
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
            };
        let r = self.rate;
        let slow = (self.graph_timeout_seconds + 1) * 1000;
        vec![
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
        ]
    }
}

/// What the storm did.
#[derive(Debug, Clone, Serialize)]
pub struct StormFigures {
    pub storm_seconds: f64,
    pub rate: f64,
    /// Faults injected, per service.
    pub injected: std::collections::BTreeMap<String, u64>,
}

/// Injects faults for `options.duration`, then removes them.
pub async fn run(state: SimState, options: StormOptions, _seed: u64) -> StormFigures {
    let started = Instant::now();
    state.faults.clear();
    for rule in options.rules() {
        if let Err(e) = state.faults.add(rule) {
            tracing::warn!(error = %e, "a storm rule was refused");
        }
    }
    tokio::time::sleep(options.duration).await;
    let mut injected = std::collections::BTreeMap::new();
    for rule in state.faults.rules() {
        *injected.entry(rule.service.clone()).or_insert(0) += rule.hits;
    }
    state.faults.clear();
    StormFigures {
        storm_seconds: started.elapsed().as_secs_f64(),
        rate: options.rate,
        injected,
    }
}
