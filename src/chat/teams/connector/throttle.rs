//! Client-side pacing so the bot stays under Teams' limits (facts §5)
//! instead of provoking 429s: per thread 7/1 s, 8/2 s, 60/30 s, 1800/h for
//! sends and creates, and 50 requests per second per app.
//!
//! Teams counts in sliding windows, so this does too: it remembers when
//! each recent operation left and lets one more go as soon as every window
//! has room. An earlier GCRA (`governor`) version had to under-use the
//! 30 s window by half (at most 49 sends per 30 s, then one per second) to
//! be safe, which made a busy approver's conversation take twice as long as
//! Teams allows. Each window is counted `MARGIN` longer than Teams' so that
//! network jitter between our clock and Teams' arrival times cannot push
//! two requests into one window.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// (operations, window) for one thread: sends, replies, updates, creates.
const THREAD_WINDOWS: [(usize, Duration); 4] = [
    (7, Duration::from_secs(1)),
    (8, Duration::from_secs(2)),
    (60, Duration::from_secs(30)),
    (1800, Duration::from_secs(3600)),
];
/// "The global limit per app per tenant is 50 Requests Per Second."
const APP_WINDOWS: [(usize, Duration); 1] = [(50, Duration::from_secs(1))];
/// Added to every window: covers the spread in request transit times.
const MARGIN: Duration = Duration::from_millis(50);

/// Departure times within the longest window, oldest first.
#[derive(Debug, Default)]
struct Sent(VecDeque<Instant>);

impl Sent {
    /// How long until one more operation fits every window (zero: now).
    fn wait(&mut self, windows: &[(usize, Duration)], now: Instant) -> Duration {
        let longest = windows.iter().map(|(_, w)| *w + MARGIN).max();
        if let Some(longest) = longest {
            while self.0.front().is_some_and(|t| now - *t >= longest) {
                self.0.pop_front();
            }
        }
        let mut wait = Duration::ZERO;
        for (limit, window) in windows {
            let window = *window + MARGIN;
            let in_window = self
                .0
                .iter()
                .rev()
                .take_while(|t| now - **t < window)
                .count();
            if in_window >= *limit {
                // Room once the `limit`-th most recent one leaves the window.
                let oldest_needed = self.0[self.0.len() - limit];
                wait = wait.max(window - (now - oldest_needed));
            }
        }
        wait
    }
}

#[derive(Debug, Default)]
struct State {
    per_thread: HashMap<String, Sent>,
    per_app: Sent,
}

#[derive(Debug, Default)]
pub struct Throttle {
    state: Mutex<State>,
    /// One waiter per thread at a time, first come first served: two
    /// updates of one card must reach Teams in the order they were made.
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Throttle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits (sleeping until the next slot, never polling) until one more
    /// operation on `thread` fits every limit, and counts it.
    pub async fn until_ready(&self, thread: &str) {
        // Channel threads share their channel's budget.
        let key = thread
            .split_once(";messageid=")
            .map_or(thread, |(channel, _)| channel);
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            if queues.len() > 10_000 {
                queues.retain(|_, q| Arc::strong_count(q) > 1);
            }
            Arc::clone(queues.entry(key.to_owned()).or_default())
        };
        let _turn = queue.lock().await;
        loop {
            let now = Instant::now();
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let state = &mut *state;
                // Long-lived bots talk to many threads: drop idle ones now and then.
                if state.per_thread.len() > 10_000 {
                    state.per_thread.retain(|_, sent| {
                        sent.0
                            .back()
                            .is_some_and(|t| now - *t < Duration::from_secs(3600) + MARGIN)
                    });
                }
                let sent = state.per_thread.entry(key.to_owned()).or_default();
                let wait = sent
                    .wait(&THREAD_WINDOWS, now)
                    .max(state.per_app.wait(&APP_WINDOWS, now));
                if wait.is_zero() {
                    sent.0.push_back(now);
                    state.per_app.0.push_back(now);
                }
                wait
            };
            if wait.is_zero() {
                return;
            }
            tokio::time::sleep_until(now + wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thirty_second_window_is_used_in_full_and_not_exceeded() {
        let start = Instant::now();
        let mut sent = Sent::default();
        let mut times = Vec::new();
        let mut now = start;
        while times.len() < 130 {
            let wait = sent.wait(&THREAD_WINDOWS, now);
            if wait.is_zero() {
                sent.0.push_back(now);
                times.push(now);
            } else {
                now += wait;
            }
        }
        for (limit, window) in THREAD_WINDOWS {
            for (i, t) in times.iter().enumerate().skip(limit) {
                assert!(
                    *t - times[i - limit] >= window,
                    "{limit} per {window:?} exceeded"
                );
            }
        }
        // 60 per 30 s: the 61st goes one window (plus margin) after the first.
        assert!(times[60] - start <= Duration::from_secs(31));
        assert!(times[120] - start <= Duration::from_secs(62));
    }
}
