//! End-to-end fan-out: a generated tenant, every requester submits one
//! two-stage request at once on one platform, approvers approve as their
//! cards arrive (the chaos helper's swarm, [`crate::load::swarm`]), with the
//! bot as its own process. Figures come from the emulators' records and
//! `/proc`; the floor from [`super::floor`], the latencies from
//! [`super::latency`].

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::floor::{self, Counts, Floor};
use super::harness::Emulators;
use super::latency::{self, LatencyFigures};
use super::startup::mb;
use crate::load::swarm::{Platform, Swarm, SwarmOptions, check};
use crate::load::tenant_gen::{TenantSize, tenant_file};

/// How big and how patient.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutOptions {
    pub requesters: usize,
    pub managers: usize,
    pub security_approvers: usize,
    pub platforms: Vec<Platform>,
    /// Personas acting at once.
    pub concurrency: usize,
    /// Give up after this long, seconds.
    pub deadline_seconds: u64,
}

/// Figures of one platform's fan-out.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutFigures {
    pub platform: Platform,
    pub requests: usize,
    /// First submission → every request delivered and every card final, s.
    pub seconds: f64,
    pub floor: Floor,
    /// `seconds / floor.seconds` (`None` when the floor is 0).
    pub ratio: Option<f64>,
    /// 429s the emulated platform answered during the fan-out.
    pub throttled: u64,
    pub graph_calls_per_request: f64,
    pub bot_cpu_s_per_1k_requests: f64,
    pub bot_peak_rss_mb: f64,
    pub delivered: usize,
    pub duplicate_cards: usize,
    pub lost_decisions: usize,
    pub live_cards_left: usize,
    pub timed_out: bool,
    pub sample_errors: Vec<String>,
    /// Request → first card, and click → Graph → every card updated.
    pub latency: LatencyFigures,
}

impl FanoutFigures {
    /// Every request delivered, no card lost or duplicated.
    #[must_use]
    pub fn complete(&self) -> bool {
        !self.timed_out
            && self.delivered == self.requests
            && self.duplicate_cards == 0
            && self.lost_decisions == 0
            && self.live_cards_left == 0
    }
}

/// One fan-out per platform, each on its own emulators and bot.
pub async fn measure(binary: &Path, options: &FanoutOptions) -> anyhow::Result<Vec<FanoutFigures>> {
    let mut out = Vec::new();
    for platform in &options.platforms {
        out.push(one(binary, options, *platform).await?);
    }
    Ok(out)
}

async fn one(
    binary: &Path,
    options: &FanoutOptions,
    platform: Platform,
) -> anyhow::Result<FanoutFigures> {
    let size = TenantSize {
        requesters: options.requesters.max(1),
        managers: options.managers.max(1),
        security_approvers: options.security_approvers.max(1),
    };
    let emulators = Emulators::start(Some(tenant_file(size))).await?;
    let state = emulators.state.clone();
    let (_, bot) = emulators.start_bot(binary, "fanout").await?;
    let swarm = Swarm::new(state.clone());
    let mut plan = SwarmOptions::for_tenant(platform, size, 0..size.requesters);
    plan.concurrency = options.concurrency.max(1);
    plan.deadline = Duration::from_secs(options.deadline_seconds);
    plan.activators.clear();

    // Everyone links first (not part of the fan-out), then the clock starts.
    let mut linking = plan.clone();
    linking.link.extend(plan.requesters.iter().cloned());
    linking.requesters.clear();
    let linked = swarm.run(&linking).await;
    if linked.timed_out {
        anyhow::bail!(
            "linking the personas did not finish: {:?}",
            linked.sample_errors
        );
    }
    let teams = platform == Platform::Teams;
    let counts_before = counts(&state, teams);
    let throttled_before = floor::throttled(&state, teams);
    let graph_before = state.graph_round_trips();
    let usage_before = bot.usage()?;

    plan.link.clear();
    let outcome = swarm.run(&plan).await;

    let usage = bot.usage()?;
    let requests = plan.requesters.len();
    let fan_out = counts(&state, teams).since(&counts_before);
    let floor = if teams {
        floor::teams(&fan_out)
    } else {
        floor::slack(&fan_out)
    };
    let seconds = outcome.wall_seconds - outcome.link_seconds;
    let report = check(&state, &outcome);
    let latency = latency::collect(&state, platform, &plan.requesters);
    let figures = FanoutFigures {
        platform,
        requests,
        seconds,
        ratio: (floor.seconds > 0.0).then(|| seconds / floor.seconds),
        floor,
        throttled: floor::throttled(&state, teams) - throttled_before,
        graph_calls_per_request: (state.graph_round_trips() - graph_before) as f64
            / requests as f64,
        bot_cpu_s_per_1k_requests: (usage.cpu_seconds - usage_before.cpu_seconds) * 1000.0
            / requests as f64,
        bot_peak_rss_mb: mb(usage.peak_rss_bytes),
        delivered: report.final_state_correct,
        duplicate_cards: report.duplicate_cards,
        lost_decisions: report.lost_decisions,
        live_cards_left: report.live_cards_left,
        timed_out: outcome.timed_out,
        sample_errors: outcome.sample_errors.iter().take(3).cloned().collect(),
        latency,
    };
    drop(bot);
    emulators.stop().await?;
    Ok(figures)
}

fn counts(state: &stagegate_sandbox::SimState, teams: bool) -> Counts {
    if teams {
        Counts::teams(state)
    } else {
        Counts::slack(state)
    }
}
