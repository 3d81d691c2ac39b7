//! The rate-limit floor: the least time in which the chat platforms would
//! accept the messages the bot actually sent, given the limits the emulators
//! enforce (docs/architecture.md, "Teams rate limits" and "Slack rate
//! limits"):
//!
//! - Teams, per conversation, sends and updates together: 7 per 1 s, 8 per
//!   2 s, 60 per 30 s, 1,800 per hour; per app per tenant: 50 per second.
//! - Slack `chat.postMessage`: 1 per second per channel (burst 2);
//!   `chat.update` (Tier 3): 50 per minute per workspace with a burst of 50
//!   (a token bucket: `n` updates need `(n − 50) · 1.2 s`).
//!
//! For `n` operations under a window of `limit` per `w` seconds, the last
//! can go no earlier than `(ceil(n / limit) - 1) * w` after the first. The
//! floor is the largest such bound over every window that applies (each
//! conversation's, each channel's and the app's or method's), a lower bound
//! that ignores everything but the limits.

use std::collections::BTreeMap;

use serde::Serialize;

use stagegate_sandbox::SimState;
use stagegate_sandbox::teams::ratelimit::{PER_APP, SEND};

/// `(limit, window seconds)` pairs.
type Windows = [(usize, f64)];

/// Seconds the `n` operations need at least under `windows`.
#[must_use]
pub fn bound(n: usize, windows: &Windows) -> f64 {
    windows
        .iter()
        .map(|(limit, w)| (n.div_ceil((*limit).max(1)).saturating_sub(1)) as f64 * w)
        .fold(0.0, f64::max)
}

/// Slack `chat.postMessage` per channel: 1 per second with a burst of 2.
fn post_message_bound(n: usize) -> f64 {
    n.saturating_sub(2) as f64
}

/// Slack `chat.update` (Tier 3) as the emulator checks it: 50 per minute
/// with a burst of 50 (GCRA), so after the first 50 one per 1.2 s.
fn update_bound(n: usize) -> f64 {
    n.saturating_sub(50) as f64 * 1.2
}

/// What the floor was computed from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Floor {
    /// Posts plus updates the platform accepted.
    pub operations: usize,
    pub posts: usize,
    pub updates: usize,
    /// The floor, seconds.
    pub seconds: f64,
    /// Which limit sets it.
    pub binding: String,
}

fn to_windows(windows: &[(usize, std::time::Duration)]) -> Vec<(usize, f64)> {
    windows.iter().map(|(n, w)| (*n, w.as_secs_f64())).collect()
}

/// Posts and updates per conversation (Teams) or channel (Slack) so far;
/// a later snapshot minus an earlier one gives the messages in between.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub per_key: BTreeMap<String, (usize, usize)>,
}

impl Counts {
    /// Teams: every bot activity is one send, every later version one update.
    pub fn teams(state: &SimState) -> Self {
        let store = state.teams.store();
        let mut per_key = BTreeMap::new();
        for c in store.conversations.values() {
            let (mut posts, mut updates) = (0, 0);
            for a in c.activities.iter().filter(|a| a.from_bot) {
                posts += 1;
                updates += a.versions.len() - 1;
            }
            per_key.insert(c.id.clone(), (posts, updates));
        }
        Self { per_key }
    }

    /// Slack: successful `chat.postMessage` and `chat.update` per channel.
    pub fn slack(state: &SimState) -> Self {
        let world = state.slack.lock();
        let mut per_key: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for call in world.calls.iter().filter(|c| c.ok) {
            let entry = per_key
                .entry(call.channel.clone().unwrap_or_default())
                .or_default();
            match call.method.as_str() {
                "chat.postMessage" => entry.0 += 1,
                "chat.update" => entry.1 += 1,
                _ => {}
            }
        }
        Self { per_key }
    }

    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let per_key = self
            .per_key
            .iter()
            .map(|(k, (p, u))| {
                let (p0, u0) = earlier.per_key.get(k).copied().unwrap_or_default();
                (k.clone(), (p.saturating_sub(p0), u.saturating_sub(u0)))
            })
            .collect();
        Self { per_key }
    }

    fn totals(&self) -> (usize, usize) {
        self.per_key
            .values()
            .fold((0, 0), |(p, u), (dp, du)| (p + dp, u + du))
    }
}

/// Teams: each conversation's windows and the app's 50/s.
#[must_use]
pub fn teams(counts: &Counts) -> Floor {
    let per_conversation = to_windows(SEND);
    let per_app = to_windows(PER_APP);
    let (posts, updates) = counts.totals();
    let mut worst = (0.0, String::new());
    for (p, u) in counts.per_key.values() {
        let b = bound(p + u, &per_conversation);
        if b > worst.0 {
            worst = (b, format!("one conversation's {} operations", p + u));
        }
    }
    let operations = posts + updates;
    let app = bound(operations, &per_app);
    if app >= worst.0 {
        worst = (app, format!("{operations} operations at 50/s per app"));
    }
    Floor {
        operations,
        posts,
        updates,
        seconds: worst.0,
        binding: worst.1,
    }
}

/// Slack: each channel's `chat.postMessage` and the workspace's `chat.update`.
#[must_use]
pub fn slack(counts: &Counts) -> Floor {
    let (posts, updates) = counts.totals();
    let (channel, most) = counts
        .per_key
        .iter()
        .map(|(c, (p, _))| (c.as_str(), *p))
        .max_by_key(|(_, n)| *n)
        .unwrap_or(("", 0));
    let by_posts = post_message_bound(most);
    let by_updates = update_bound(updates);
    let (seconds, binding) = if by_updates >= by_posts {
        (
            by_updates,
            format!("{updates} chat.update at 50/min, burst 50"),
        )
    } else {
        (
            by_posts,
            format!("{most} chat.postMessage to {channel} at 1/s"),
        )
    };
    Floor {
        operations: posts + updates,
        posts,
        updates,
        seconds,
        binding,
    }
}

/// 429s the emulated platforms answered.
pub fn throttled(state: &SimState, teams: bool) -> u64 {
    if teams {
        stagegate_sandbox::teams::Stats::get(&state.teams.stats.throttled)
    } else {
        state
            .slack
            .lock()
            .calls
            .iter()
            .filter(|c| c.status == 429)
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_is_the_start_of_the_last_window_needed() {
        let teams = [(7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0)];
        assert_eq!(bound(0, &teams), 0.0);
        assert_eq!(bound(7, &teams), 0.0);
        assert_eq!(bound(8, &teams), 1.0);
        assert_eq!(bound(9, &teams), 2.0);
        assert_eq!(bound(61, &teams), 30.0);
        assert_eq!(bound(100, &[(50, 1.0)]), 1.0);
        assert_eq!(bound(101, &[(50, 60.0)]), 120.0);
    }

    #[test]
    fn slack_posts_allow_a_burst_of_two() {
        assert_eq!(post_message_bound(1), 0.0);
        assert_eq!(post_message_bound(2), 0.0);
        assert_eq!(post_message_bound(5), 3.0);
        assert_eq!(update_bound(50), 0.0);
        assert!((update_bound(90) - 48.0).abs() < 1e-9);
    }
}
