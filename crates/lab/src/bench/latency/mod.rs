//! The fan-out's two latency figures, from the emulators' real-time
//! records ([`stagegate_sandbox::moments`], `created_at` / `decided_at` in the
//! emulated Graph):
//!
//! - **request → first card**: per request, Graph created it (the bot's
//!   `POST …/assignmentRequests` for the requester; the bot has the request
//!   from that answer on) → the first approval card of its first stage was
//!   posted in Teams / Slack;
//! - **click → every card updated**: per decided stage, the deciding
//!   approver's last click on their card of that stage that arrived at the
//!   driver before Graph recorded the decision (Teams: the `Action.Execute`
//!   or `Action.Submit`; Slack: the modal's Submit, else the button) →
//!   Graph recorded it → the last update that put every card of that stage
//!   in its final state; both parts printed too.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted samples is
//! the ⌈p/100 · n⌉-th. [`collect`] reads the records; [`measure`] is pure.

mod collect;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use collect::{collect, posted_cards};

use stagegate_sandbox::moments::MessageMoments;

/// An approval card as it was posted, with its real-time moments.
#[derive(Debug, Clone)]
pub struct PostedCard {
    /// Entra object id of the person it was posted to.
    pub holder: String,
    pub request: String,
    pub stage: String,
    /// Clicks by Entra object id, on both platforms.
    pub moments: MessageMoments,
}

/// One request as the emulated Graph recorded it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub id: String,
    pub created: Instant,
    pub stages: Vec<StageRecord>,
}

/// One approval stage: its id, and who decided it when, if anyone did.
#[derive(Debug, Clone)]
pub struct StageRecord {
    pub id: String,
    /// (Entra object id of the approver, when Graph recorded it).
    pub decided: Option<(String, Instant)>,
}

/// p50 / p99 of one interval over its samples (nearest-rank); `None`
/// without samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub samples: usize,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

impl Percentiles {
    /// The percentiles of `samples`.
    #[must_use]
    pub fn of(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        Self {
            samples: ms.len(),
            p50_ms: nearest_rank(&ms, 50),
            p99_ms: nearest_rank(&ms, 99),
        }
    }

    /// `p50 12.3 ms, p99 45.6 ms (n=100)`, or that there was nothing.
    #[must_use]
    pub fn show(&self) -> String {
        match (self.p50_ms, self.p99_ms) {
            (Some(p50), Some(p99)) => {
                format!("p50 {p50:.1} ms, p99 {p99:.1} ms (n={})", self.samples)
            }
            _ => "no samples".into(),
        }
    }
}

/// The `percent`-th percentile (1–100) of ascending `sorted` by nearest
/// rank: the ⌈percent/100 · n⌉-th value (1-based, in integers so that no
/// rounding moves a rank); `None` when empty.
#[must_use]
pub fn nearest_rank(sorted: &[f64], percent: usize) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (percent * n).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1])
}

/// Both latency figures of one fan-out, with the parts of the second.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LatencyFigures {
    /// Graph created the request → first stage-1 approval card posted; one
    /// sample per request that got a card.
    pub request_to_first_card: Percentiles,
    /// Deciding click arrived → every card of the stage final; one sample
    /// per decided stage.
    pub click_to_cards_updated: Percentiles,
    /// Deciding click arrived → Graph recorded the decision.
    pub click_to_graph: Percentiles,
    /// Graph recorded the decision → the last card of the stage updated.
    pub graph_to_cards_updated: Percentiles,
    pub requests: usize,
    /// Stages Graph has a decision for.
    pub decided_stages: usize,
    /// Requests without any stage-1 card.
    pub requests_without_card: usize,
    /// Decided stages without a click by the decider before the decision
    /// (decided outside chat), or whose cards were last changed before it.
    pub stages_unmatched: usize,
}

/// The figures of `requests`, given every approval card posted.
#[must_use]
pub fn measure(requests: &[RequestRecord], cards: &[PostedCard]) -> LatencyFigures {
    let mut by_stage: HashMap<(&str, &str), Vec<&PostedCard>> = HashMap::new();
    for c in cards {
        by_stage
            .entry((c.request.as_str(), c.stage.as_str()))
            .or_default()
            .push(c);
    }
    let cards_of = |r: &RequestRecord, s: &StageRecord| -> Vec<&PostedCard> {
        by_stage
            .get(&(r.id.as_str(), s.id.as_str()))
            .cloned()
            .unwrap_or_default()
    };
    let mut figures = LatencyFigures {
        requests: requests.len(),
        ..LatencyFigures::default()
    };
    let (mut first_card, mut to_graph, mut to_cards, mut whole) = (vec![], vec![], vec![], vec![]);
    for r in requests {
        let first_posted = r
            .stages
            .first()
            .and_then(|s| cards_of(r, s).iter().map(|c| c.moments.posted).min());
        match first_posted {
            Some(posted) => first_card.push(posted.saturating_duration_since(r.created)),
            None => figures.requests_without_card += 1,
        }
        for s in &r.stages {
            let Some((by, decided)) = &s.decided else {
                continue;
            };
            figures.decided_stages += 1;
            let stage_cards = cards_of(r, s);
            let click = stage_cards
                .iter()
                .filter(|c| c.holder == *by)
                .filter_map(|c| c.moments.last_click_by(by, *decided))
                .max();
            let settled = stage_cards.iter().map(|c| c.moments.last_change()).max();
            match (click, settled) {
                (Some(click), Some(settled)) if settled >= *decided => {
                    to_graph.push(decided.saturating_duration_since(click));
                    to_cards.push(settled.saturating_duration_since(*decided));
                    whole.push(settled.saturating_duration_since(click));
                }
                _ => figures.stages_unmatched += 1,
            }
        }
    }
    figures.request_to_first_card = Percentiles::of(&first_card);
    figures.click_to_graph = Percentiles::of(&to_graph);
    figures.graph_to_cards_updated = Percentiles::of(&to_cards);
    figures.click_to_cards_updated = Percentiles::of(&whole);
    figures
}

#[cfg(test)]
mod tests;
