//! The figures of a chaos run, as a table for people and JSON for scripts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::killer::{self, Kill, KillMoment};
use super::storm::StormFigures;
use crate::bench::floor::Floor;
use crate::bot_process::ProcessUsage;
use crate::load::swarm::{SwarmOutcome, SwarmReport};

#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    pub requests: usize,
    pub kills: usize,
    pub kills_by_moment: BTreeMap<KillMoment, usize>,
    pub final_state_correct: usize,
    pub activations_wanted: usize,
    pub activated: usize,
    pub live_cards_left: usize,
    pub duplicate_cards: usize,
    pub lost_decisions: usize,
    pub double_relays: usize,
    pub retries: u64,
    pub wall_seconds: f64,
    /// Completed requests over requests, percent.
    pub completion_percent: f64,
    /// With a storm: from the faults stopping to the last request settling.
    pub drain_seconds: Option<f64>,
    pub storm: Option<StormFigures>,
    pub kill_log: Vec<Kill>,
    pub platforms: Vec<SwarmReport>,
    pub bot_cpu_seconds_last_process: Option<f64>,
    /// The least time the chat platforms' limits allow for the messages
    /// the run made: a run cannot drain sooner.
    pub floors: Option<Floors>,
    pub failures: Vec<String>,
}

/// Each platform's rate-limit floor for what the bot sent it.
#[derive(Debug, Clone, Serialize)]
pub struct Floors {
    pub teams: Floor,
    pub slack: Floor,
}

impl ChaosReport {
    pub fn new(
        requests: usize,
        platforms: Vec<SwarmReport>,
        kill_log: Vec<Kill>,
        storm: Option<StormFigures>,
        wall: Duration,
        usage: Option<ProcessUsage>,
        outcomes: &[SwarmOutcome],
    ) -> Self {
        let sum = |f: fn(&SwarmReport) -> usize| platforms.iter().map(f).sum::<usize>();
        let final_state_correct = sum(|p| p.final_state_correct);
        let swarm_seconds = outcomes.iter().map(|o| o.wall_seconds).fold(0.0, f64::max);
        let drain_seconds = storm
            .as_ref()
            .map(|s| (swarm_seconds - s.storm_seconds).max(0.0));
        let failures = platforms
            .iter()
            .flat_map(|p| {
                let name = format!(
                    "{:?}",
                    p.platform.unwrap_or(crate::load::swarm::Platform::Teams)
                );
                p.failures()
                    .into_iter()
                    .map(move |f| format!("{name}: {f}"))
            })
            .collect();
        Self {
            requests,
            kills: kill_log.len(),
            kills_by_moment: killer::by_moment(&kill_log),
            final_state_correct,
            activations_wanted: sum(|p| p.activations_wanted),
            activated: sum(|p| p.activated),
            live_cards_left: sum(|p| p.live_cards_left),
            duplicate_cards: sum(|p| p.duplicate_cards),
            lost_decisions: sum(|p| p.lost_decisions),
            double_relays: sum(|p| p.double_relays),
            retries: platforms.iter().map(|p| p.retries).sum(),
            wall_seconds: wall.as_secs_f64(),
            completion_percent: 100.0 * final_state_correct as f64 / requests.max(1) as f64,
            drain_seconds,
            storm,
            kill_log,
            platforms,
            bot_cpu_seconds_last_process: usage.map(|u| u.cpu_seconds),
            floors: None,
            failures,
        }
    }

    /// Every invariant held on every platform.
    pub fn ok(&self) -> bool {
        self.failures.is_empty() && self.platforms.iter().all(SwarmReport::ok)
    }

    /// The figures as an aligned table.
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, String)> = vec![
            ("requests".into(), self.requests.to_string()),
            ("kills".into(), self.kills.to_string()),
        ];
        for (moment, n) in &self.kills_by_moment {
            rows.push((format!("  kills {moment:?}"), n.to_string()));
        }
        rows.extend([
            (
                "final state correct".into(),
                format!(
                    "{} ({:.1} %)",
                    self.final_state_correct, self.completion_percent
                ),
            ),
            (
                "activated (MFA)".into(),
                format!("{} of {}", self.activated, self.activations_wanted),
            ),
            ("live cards left".into(), self.live_cards_left.to_string()),
            ("duplicate cards".into(), self.duplicate_cards.to_string()),
            ("lost decisions".into(), self.lost_decisions.to_string()),
            ("double relays".into(), self.double_relays.to_string()),
            ("swarm retries".into(), self.retries.to_string()),
            ("wall time".into(), format!("{:.1} s", self.wall_seconds)),
        ]);
        if let Some(Floors { teams, slack }) = &self.floors {
            rows.push((
                "rate-limit floor".into(),
                format!(
                    "Teams {:.1} s ({}), Slack {:.1} s ({})",
                    teams.seconds, teams.binding, slack.seconds, slack.binding
                ),
            ));
        }
        if let (Some(storm), Some(drain)) = (&self.storm, self.drain_seconds) {
            let injected: u64 = storm.injected.values().sum();
            rows.push((
                "storm".into(),
                format!(
                    "{:.1} s at {:.0} %, {injected} faults {:?}",
                    storm.storm_seconds,
                    storm.rate * 100.0,
                    storm.injected
                ),
            ));
            rows.push((
                "storm disorder".into(),
                format!(
                    "duplicates at {:.0} %, reorders at {:.0} %: {:?}",
                    storm.duplicate_rate * 100.0,
                    storm.reorder_rate * 100.0,
                    storm.disordered
                ),
            ));
            rows.push(("drain after storm".into(), format!("{drain:.1} s")));
        }
        rows.push((
            "verdict".into(),
            if self.ok() {
                "PASS".into()
            } else {
                format!("FAIL: {}", self.failures.join("; "))
            },
        ));
        rows.iter().map(|(k, v)| format!("{k:<22} {v}\n")).collect()
    }
}
