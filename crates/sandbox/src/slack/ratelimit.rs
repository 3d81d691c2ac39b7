//! Slack's rate limits as the emulator applies them (docs/architecture.md,
//! "Slack rate limits"):
//! "per API method per app per workspace" by tier, and for
//! `chat.postMessage` about one message per second per channel with a small
//! burst tolerance. Over the limit: HTTP 429, `Retry-After: <whole seconds>`,
//! `{"ok":false,"error":"ratelimited"}`.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

/// Requests per minute of each method's tier (Tier 2 = 20, Tier 3 = 50,
/// Tier 4 = 100); `auth.test` is slack-morphism's "special" 100 per second.
///
/// `conversations.history` is Tier 3 for Marketplace apps and internal
/// customer-built apps, which is what this bot is. The 2025 limit of 1 a
/// minute (and `limit` at most 15) applies only to commercially distributed
/// apps outside the Marketplace (docs.slack.dev conversations.history and
/// rate-limits pages), so it is not emulated.
fn quota_of(method: &str) -> Quota {
    match method {
        "chat.postEphemeral" | "users.info" | "views.open" | "views.update" => {
            Quota::per_minute(nz(100))
        }
        "chat.update" | "conversations.open" | "conversations.history" | "users.lookupByEmail" => {
            Quota::per_minute(nz(50))
        }
        "auth.test" => Quota::per_second(nz(100)),
        _ => Quota::per_minute(nz(20)),
    }
}

pub(super) struct EmuLimits {
    /// chat.postMessage, keyed by channel id.
    per_channel: DefaultKeyedRateLimiter<String>,
    /// Every other method, keyed by method; one limiter per distinct quota
    /// would work as well, this keeps the table in one place.
    per_method: std::collections::HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for EmuLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuLimits").finish_non_exhaustive()
    }
}

pub(super) const METHODS: [&str; 10] = [
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "conversations.open",
    "conversations.history",
    "users.info",
    "views.open",
    "views.update",
    "auth.test",
    "users.lookupByEmail",
];

impl Default for EmuLimits {
    fn default() -> Self {
        Self {
            // Slack tolerates short bursts; two back-to-back messages pass,
            // a sustained rate above 1/s does not.
            per_channel: RateLimiter::keyed(Quota::per_second(nz(1)).allow_burst(nz(2))),
            per_method: METHODS
                .iter()
                .map(|m| (*m, RateLimiter::keyed(quota_of(m))))
                .collect(),
            clock: DefaultClock::default(),
        }
    }
}

impl EmuLimits {
    /// `Err(retry_after)` when the call is over the limit.
    pub(super) fn check(&self, method: &str, channel: Option<&str>) -> Result<(), Duration> {
        let result = if method == "chat.postMessage" {
            self.per_channel
                .check_key(&channel.unwrap_or_default().to_owned())
        } else {
            match self.per_method.get(method) {
                Some(limiter) => limiter.check_key(&method.to_owned()),
                None => Ok(()),
            }
        };
        result.map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            // Whole seconds, rounded up, never 0: a client that waits what
            // it is told must then succeed.
            Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
                .max(Duration::from_secs(1))
        })
    }
}
