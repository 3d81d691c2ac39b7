//! Outbound rate limits, applied before a call is sent so the bot does not
//! provoke 429s (docs/architecture.md, "Slack rate limits"):
//! `chat.postMessage` about one message per second per channel, the other
//! methods their tier's per-minute budget.
//! Slack counts "per API method per app per workspace"; one client is one
//! app in one workspace, so one budget per method (and per channel for
//! `chat.postMessage`) matches how Slack counts. Budgets are sliding
//! windows counted from each call's answer (`chat::pacing` says why).

use std::collections::HashMap;
use std::time::Duration;

use crate::chat::pacing::{Limit, Limits, LineFull, Pacer, Slot};

/// Callers that may wait for one budget (a channel's chat.postMessage, or
/// a method's tier for the workspace) before one more is refused: 1,000 is
/// over 16 minutes of chat.postMessage at one per second per channel.
pub const MAX_LINE: usize = 1_000;
/// What a caller refused by a full line is told to wait.
pub const LINE_FULL_RETRY: Duration = Duration::from_secs(60);

/// Slack's rate-limit tiers (requests per minute, "+" meaning bursts are
/// tolerated), and the special cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Tier2,
    Tier3,
    Tier4,
    /// chat.postMessage: one per second per channel.
    PostMessage,
    /// auth.test: slack-morphism's "special", 100 per second.
    AuthTest,
}

/// The tier of each method the bot calls. Tiers for chat.update,
/// chat.postEphemeral, conversations.open, users.info and auth.test are from
/// slack-morphism's table (docs/architecture.md, "Slack rate limits": not read
/// from Slack's pages); conversations.history is Tier 3 for internal apps (its
/// docs.slack.dev page; the 1-per-minute limit is for commercially distributed
/// non-Marketplace apps).
pub fn tier_of(method: &str) -> Tier {
    match method {
        "chat.postMessage" => Tier::PostMessage,
        "chat.postEphemeral" | "users.info" | "views.open" | "views.update" | "views.push" => {
            Tier::Tier4
        }
        "auth.test" => Tier::AuthTest,
        "chat.update" | "conversations.open" | "conversations.history" | "users.lookupByEmail" => {
            Tier::Tier3
        }
        _ => Tier::Tier2,
    }
}

/// `per_minute` with bursts of as many: Slack's "N+ per minute".
const fn per_minute(n: u32) -> Limit {
    Limit::Bucket {
        burst: n as usize,
        every: Duration::from_millis(60_000 / n as u64),
    }
}
const TIER_2: Limits = &[per_minute(20)];
const TIER_3: Limits = &[per_minute(50)];
const TIER_4: Limits = &[per_minute(100)];
/// "About one message per second per channel", short bursts tolerated.
const POST_PER_CHANNEL: Limits = &[Limit::Bucket {
    burst: 2,
    every: Duration::from_secs(1),
}];
const AUTH_TEST: Limits = &[Limit::Bucket {
    burst: 100,
    every: Duration::from_millis(10),
}];

/// The budgets the client keeps to; `Default` is Slack's published limits.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    pub post_message_per_channel: Limits,
    pub tiers: HashMap<Tier, Limits>,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            post_message_per_channel: POST_PER_CHANNEL,
            tiers: HashMap::from([
                (Tier::Tier2, TIER_2),
                (Tier::Tier3, TIER_3),
                (Tier::Tier4, TIER_4),
                (Tier::AuthTest, AUTH_TEST),
            ]),
        }
    }
}

impl ClientLimits {
    /// Limits loose enough never to wait; for exercising Slack's own 429s.
    #[must_use]
    pub fn unthrottled() -> Self {
        const MANY: Limits = &[Limit::Window {
            requests: 10_000,
            per: Duration::from_secs(1),
        }];
        Self {
            post_message_per_channel: MANY,
            tiers: [Tier::Tier2, Tier::Tier3, Tier::Tier4, Tier::AuthTest]
                .into_iter()
                .map(|t| (t, MANY))
                .collect(),
        }
    }
}

/// The budgets themselves.
#[derive(Debug)]
pub struct RateLimits {
    limits: ClientLimits,
    pacer: Pacer,
}

impl RateLimits {
    #[must_use]
    pub fn new(limits: &ClientLimits) -> Self {
        Self {
            limits: limits.clone(),
            pacer: Pacer::with_max_line(MAX_LINE),
        }
    }

    /// Waits until `method` (to `channel`, for chat.postMessage) may be
    /// sent; hold the slot until Slack has answered. `Err` at once when
    /// [`MAX_LINE`] callers already wait for the same budget.
    pub(crate) async fn acquire(
        &self,
        method: &str,
        channel: Option<&str>,
    ) -> Result<Slot, LineFull> {
        let (key, limits) = self.budget(method, channel);
        self.pacer.slot(&[(&key, limits)]).await
    }

    /// As [`Self::acquire`], or `Err(estimated wait)` without waiting when
    /// the line for `method` is longer than `patience`.
    pub async fn acquire_within(
        &self,
        method: &str,
        channel: Option<&str>,
        patience: Duration,
    ) -> Result<Slot, Duration> {
        let (key, limits) = self.budget(method, channel);
        self.pacer.slot_within(&[(&key, limits)], patience).await
    }

    /// The budget `method` counts against: per channel for
    /// chat.postMessage, per method (the workspace's) for the tiers.
    fn budget(&self, method: &str, channel: Option<&str>) -> (String, Limits) {
        match tier_of(method) {
            Tier::PostMessage => (
                format!("{method}:{}", channel.unwrap_or_default()),
                self.limits.post_message_per_channel,
            ),
            tier => (
                method.to_owned(),
                self.limits.tiers.get(&tier).copied().unwrap_or(&[]),
            ),
        }
    }
}
