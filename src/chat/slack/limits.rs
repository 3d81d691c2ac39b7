//! Outbound rate limits, applied before a call is sent so the bot does not
//! provoke 429s (facts/slack.md §4): `chat.postMessage` about one message per
//! second per channel, the other methods their tier's per-minute budget.
//! Slack counts "per API method per app per workspace"; one client is one
//! app in one workspace, so one limiter per method (and per channel for
//! `chat.postMessage`) matches how Slack counts.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

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
/// slack-morphism's table (facts §10: not read from Slack's pages).
pub fn tier_of(method: &str) -> Tier {
    match method {
        "chat.postMessage" => Tier::PostMessage,
        "chat.postEphemeral" | "users.info" | "views.open" | "views.update" | "views.push" => {
            Tier::Tier4
        }
        "auth.test" => Tier::AuthTest,
        "chat.update" | "conversations.open" | "users.lookupByEmail" => Tier::Tier3,
        _ => Tier::Tier2,
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// The quotas the client keeps to; `Default` is Slack's published limits.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    pub post_message_per_channel: Quota,
    pub tiers: HashMap<Tier, Quota>,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            // No burst: a second message to the same channel waits a second.
            post_message_per_channel: Quota::with_period(Duration::from_secs(1))
                .unwrap_or_else(|| per_minute(60)),
            tiers: HashMap::from([
                (Tier::Tier2, per_minute(20)),
                (Tier::Tier3, per_minute(50)),
                (Tier::Tier4, per_minute(100)),
                (
                    Tier::AuthTest,
                    Quota::per_second(NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN)),
                ),
            ]),
        }
    }
}

impl ClientLimits {
    /// Limits loose enough never to wait; for exercising Slack's own 429s.
    #[must_use]
    pub fn unthrottled() -> Self {
        let many = Quota::per_second(NonZeroU32::new(10_000).unwrap_or(NonZeroU32::MIN));
        Self {
            post_message_per_channel: many,
            tiers: [Tier::Tier2, Tier::Tier3, Tier::Tier4, Tier::AuthTest]
                .into_iter()
                .map(|t| (t, many))
                .collect(),
        }
    }
}

/// The limiters themselves.
pub struct RateLimits {
    per_channel: DefaultKeyedRateLimiter<String>,
    tiers: HashMap<Tier, DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    #[must_use]
    pub fn new(limits: &ClientLimits) -> Self {
        Self {
            per_channel: RateLimiter::keyed(limits.post_message_per_channel),
            tiers: limits
                .tiers
                .iter()
                .map(|(tier, quota)| (*tier, RateLimiter::direct(*quota)))
                .collect(),
        }
    }

    /// Waits until `method` (to `channel`, for chat.postMessage) may be sent.
    pub async fn acquire(&self, method: &str, channel: Option<&str>) {
        match tier_of(method) {
            Tier::PostMessage => {
                let key = channel.unwrap_or_default().to_owned();
                self.per_channel.until_key_ready(&key).await;
                // Forget channels idle for long enough to be back at full budget.
                if self.per_channel.len() > 10_000 {
                    self.per_channel.retain_recent();
                }
            }
            tier => {
                if let Some(limiter) = self.tiers.get(&tier) {
                    limiter.until_ready().await;
                }
            }
        }
    }
}
