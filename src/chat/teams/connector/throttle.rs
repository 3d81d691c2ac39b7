//! Client-side pacing so the bot stays under Teams' limits (facts §5)
//! instead of provoking 429s: per thread 7/1 s, 8/2 s, 60/30 s, 1800/h for
//! sends and creates, and 50 requests per second per app.
//!
//! Teams counts in sliding windows; `governor` is GCRA. A GCRA quota with
//! burst `b` and one cell per `T` admits at most `b + ⌈W/T⌉ − 1` requests in
//! any window `W`. Waits for one thread are serialised, so a send leaves at
//! most one cell after its last check; with that, each limit below is met
//! with a margin of at least one request for network jitter.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// (burst, one cell per) for each window of the per-thread send limit.
const THREAD_QUOTAS: [(u32, Duration); 4] = [
    // 7 / 1 s  → at most 3 + 4 − 1 = 6
    (3, Duration::from_millis(250)),
    // 8 / 2 s  → at most 3 + 4 − 1 = 6
    (3, Duration::from_millis(500)),
    // 60 / 30 s → at most 20 + 30 − 1 = 49
    (20, Duration::from_secs(1)),
    // 1800 / h → at most 600 + 1200 − 1 = 1799
    (600, Duration::from_secs(3)),
];
/// 50 / s per app → at most 20 + 25 − 1 = 44.
const APP_QUOTA: (u32, Duration) = (20, Duration::from_millis(40));

pub struct Throttle {
    per_thread: Vec<DefaultKeyedRateLimiter<String>>,
    per_app: DefaultDirectRateLimiter,
    /// One waiter per thread at a time (see the module docs).
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").finish_non_exhaustive()
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

fn quota((burst, period): (u32, Duration)) -> Quota {
    Quota::with_period(period)
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"))
}

impl Throttle {
    pub fn new() -> Self {
        Self {
            per_thread: THREAD_QUOTAS
                .iter()
                .map(|q| RateLimiter::keyed(quota(*q)))
                .collect(),
            per_app: RateLimiter::direct(quota(APP_QUOTA)),
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until one more operation on `thread` fits every limit.
    pub async fn until_ready(&self, thread: &str) {
        // Channel threads share their channel's budget.
        let key = thread
            .split_once(";messageid=")
            .map_or(thread, |(channel, _)| channel)
            .to_owned();
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            if queues.len() > 10_000 {
                queues.retain(|_, q| Arc::strong_count(q) > 1);
            }
            Arc::clone(queues.entry(key.clone()).or_default())
        };
        let _turn = queue.lock().await;
        for limiter in &self.per_thread {
            limiter.until_key_ready(&key).await;
        }
        self.per_app.until_ready().await;
        // Long-lived bots talk to many threads: drop idle keys now and then.
        if self.per_thread[0].len() > 10_000 {
            for limiter in &self.per_thread {
                limiter.retain_recent();
            }
        }
    }
}
