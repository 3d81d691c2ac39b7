//! The invariants, read from the emulators' records after a swarm run:
//! every request in its right final state in Graph, every card in its final
//! state, no duplicate card, no lost decision, no decision relayed twice.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::records::{self, Directory};
use super::{Platform, SwarmOutcome};
use stagegate_sandbox::SimState;

/// What a swarm run achieved and whether every invariant held.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SwarmReport {
    pub platform: Option<Platform>,
    /// Requesters who were to ask.
    pub requests: usize,
    /// Requests Graph has for them.
    pub submitted: usize,
    /// Delivered, every stage approved by one of its approvers.
    pub final_state_correct: usize,
    pub activations_wanted: usize,
    pub activated: usize,
    /// Approval cards still showing Approve/Deny.
    pub live_cards_left: usize,
    /// Extra approval cards beyond one per (request, stage, approver).
    pub duplicate_cards: usize,
    /// Decisions the bot acknowledged that Graph never got.
    pub lost_decisions: usize,
    /// Decisions `PATCH`ed again after Graph had recorded them.
    pub double_relays: usize,
    /// Activations some security channel never heard of.
    pub missing_alerts: usize,
    /// Extra "activated through stagegate" alerts for one activation.
    pub repeated_alerts: usize,
    /// Alerts about something the run did through the bot, raised as if it
    /// had not been (activated outside chat, membership not made through
    /// stagegate, approver unreachable).
    pub false_alarms: usize,
    pub clicks: u64,
    pub retries: u64,
    pub wall_seconds: f64,
    pub link_seconds: f64,
    pub submit_seconds: f64,
    pub timed_out: bool,
    pub sample_errors: Vec<String>,
}

impl SwarmReport {
    /// Every invariant held and everything finished.
    pub fn ok(&self) -> bool {
        self.submitted == self.requests
            && self.final_state_correct == self.requests
            && self.activated == self.activations_wanted
            && self.live_cards_left == 0
            && self.duplicate_cards == 0
            && self.lost_decisions == 0
            && self.double_relays == 0
            && self.missing_alerts == 0
            && self.repeated_alerts == 0
            && self.false_alarms == 0
    }

    /// The failed invariants, named.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut fail = |bad: bool, what: String| {
            if bad {
                out.push(what);
            }
        };
        fail(
            self.submitted != self.requests,
            format!("{} of {} requests submitted", self.submitted, self.requests),
        );
        fail(
            self.final_state_correct != self.requests,
            format!(
                "{} of {} requests in the right final state",
                self.final_state_correct, self.requests
            ),
        );
        fail(
            self.activated != self.activations_wanted,
            format!(
                "{} of {} activations",
                self.activated, self.activations_wanted
            ),
        );
        fail(
            self.live_cards_left > 0,
            format!("{} live cards left", self.live_cards_left),
        );
        fail(
            self.duplicate_cards > 0,
            format!("{} duplicate cards", self.duplicate_cards),
        );
        fail(
            self.lost_decisions > 0,
            format!("{} lost decisions", self.lost_decisions),
        );
        fail(
            self.double_relays > 0,
            format!("{} double relays", self.double_relays),
        );
        fail(
            self.missing_alerts > 0,
            format!(
                "{} activations missing from a security channel",
                self.missing_alerts
            ),
        );
        fail(
            self.repeated_alerts > 0,
            format!("{} repeated activation alerts", self.repeated_alerts),
        );
        fail(
            self.false_alarms > 0,
            format!("{} false security alarms", self.false_alarms),
        );
        out
    }
}

/// Alerts a run made entirely through the bot must never raise.
const FALSE_ALARMS: [&str; 3] = [
    "Privileged role activated outside chat",
    "Privileged group membership not made through stagegate",
    "Approver unreachable in chat",
];

/// Checks the invariants for the requests of `outcome`'s requesters.
pub fn check(state: &SimState, outcome: &SwarmOutcome) -> SwarmReport {
    let platform = outcome.platform.unwrap_or(Platform::Teams);
    let dir = Directory::of(state);
    let wanted: HashSet<&String> = outcome.requesters.iter().collect();
    let mut report = SwarmReport {
        platform: outcome.platform,
        requests: outcome.requesters.len(),
        activations_wanted: outcome.activators.len(),
        clicks: outcome.clicks,
        retries: outcome.retries,
        wall_seconds: outcome.wall_seconds,
        link_seconds: outcome.link_seconds,
        submit_seconds: outcome.submit_seconds,
        timed_out: outcome.timed_out,
        sample_errors: outcome.sample_errors.clone(),
        ..SwarmReport::default()
    };
    let mut ours: HashSet<String> = HashSet::new();
    // Requester key → their request, for the activation alerts.
    let mut request_of: HashMap<String, String> = HashMap::new();
    let activated: Vec<String>;
    {
        let world = state.world();
        let mut submitted: HashSet<&String> = HashSet::new();
        for r in world.requests.values() {
            let Some(key) = dir.key_of_aad.get(&r.target_id) else {
                continue;
            };
            if !wanted.contains(key) {
                continue;
            }
            ours.insert(r.id.clone());
            request_of.insert(key.clone(), r.id.clone());
            submitted.insert(key);
            let stages_right = r.stages.iter().all(|s| {
                s.review_result == "Approved"
                    && s.reviewed_by
                        .as_ref()
                        .is_some_and(|by| s.approver_ids.contains(by))
            });
            if r.state == "delivered" && stages_right {
                report.final_state_correct += 1;
            }
            for s in &r.stages {
                let acked = outcome.acknowledged.contains(&(r.id.clone(), s.id.clone()));
                if acked && s.review_result == "NotReviewed" {
                    report.lost_decisions += 1;
                }
            }
        }
        report.submitted = submitted.len();
        let members: HashSet<&String> = world
            .groups
            .values()
            .filter(|g| g.key == crate::load::tenant_gen::PIM_GROUP_KEY)
            .flat_map(|g| g.members.iter())
            .collect();
        activated = outcome
            .activators
            .iter()
            .filter(|k| {
                dir.aad_of_key
                    .get(*k)
                    .is_some_and(|id| members.contains(id))
            })
            .cloned()
            .collect();
        report.activated = activated.len();
    }
    let alerts = records::security_alerts(state);
    for key in &activated {
        let Some(request) = request_of.get(key) else {
            continue;
        };
        for n in records::activation_alerts(&alerts, request) {
            if n == 0 {
                report.missing_alerts += 1;
            }
            report.repeated_alerts += n.saturating_sub(1);
        }
    }
    let people: Vec<&String> = outcome
        .requesters
        .iter()
        .filter_map(|k| dir.aad_of_key.get(k))
        .collect();
    report.false_alarms = alerts
        .iter()
        .filter(|(_, text)| FALSE_ALARMS.iter().any(|t| text.contains(t)))
        .filter(|(_, text)| {
            ours.iter().any(|r| text.contains(r.as_str()))
                || people.iter().any(|id| text.contains(id.as_str()))
        })
        .count();
    let live: Vec<_> = records::live_cards(state, &dir, platform)
        .into_iter()
        .filter(|c| ours.contains(&c.request))
        .collect();
    report.live_cards_left = live.len();
    // Which ones, first in the samples: a live card is a finding to chase.
    let named = live.iter().take(5).map(|c| {
        format!(
            "live card left: {} holds request {} stage {} ({})",
            c.holder, c.request, c.stage, c.handle
        )
    });
    report.sample_errors = named.chain(report.sample_errors.drain(..)).collect();
    report.duplicate_cards = records::cards_posted(state, &dir, platform)
        .iter()
        .filter(|((r, _, _), _)| ours.contains(r))
        .map(|(_, n)| (*n as usize).saturating_sub(1))
        .sum();
    let tallies: HashMap<_, _> = state.chaos.decisions().into_iter().collect();
    report.double_relays = tallies
        .iter()
        .filter(|((approval, _, _), _)| ours.contains(approval))
        .map(|(_, t)| t.repeated as usize + (t.applied as usize).saturating_sub(1))
        .sum();
    report
}
