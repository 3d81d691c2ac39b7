//! Client-side pacing in sliding windows, counted the only way that cannot
//! provoke a 429 however long requests spend in transit.
//!
//! A platform counts a request when it *arrives*, which the client cannot
//! see; it only knows the request arrived before its answer came back. So
//! a request in flight occupies a slot in every window until it is
//! answered, and from then on counts from the moment of its answer. The
//! next request leaves only when every window has room by that reckoning,
//! so it arrives at least a full window after everything the platform
//! counted before it. Counting from departure instead (as a GCRA limiter
//! does) provokes 429s whenever an earlier request was slower in transit
//! than a later one: seen on a loaded 2-core machine, where transit alone
//! exceeded a 50 ms safety margin.
//!
//! A sliding window of N per W also never exceeds a token bucket of N per
//! W with a burst of N (what Slack's tiers are), so one mechanism serves
//! Teams' windows and Slack's tiers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// (requests, window) pairs one budget keeps to.
pub type Windows = &'static [(usize, Duration)];

/// Added to every window: timer granularity only.
const MARGIN: Duration = Duration::from_millis(5);
/// Budgets remembered before idle ones are dropped.
const MAX_BUDGETS: usize = 10_000;

/// One budget: requests in flight, and when the answered ones were
/// answered (within the longest window, oldest first).
#[derive(Debug, Default)]
struct Budget {
    in_flight: usize,
    answered: VecDeque<Instant>,
}

impl Budget {
    /// How long until one more request fits every window: `Some(zero)`
    /// now, `None` not before a request in flight is answered.
    fn wait(&mut self, windows: Windows, now: Instant) -> Option<Duration> {
        if let Some(longest) = windows.iter().map(|(_, w)| *w + MARGIN).max() {
            while self.answered.front().is_some_and(|t| now - *t >= longest) {
                self.answered.pop_front();
            }
        }
        let mut wait = Duration::ZERO;
        for (limit, window) in windows {
            let window = *window + MARGIN;
            let in_window = self
                .answered
                .iter()
                .rev()
                .take_while(|t| now - **t < window)
                .count();
            let used = in_window + self.in_flight;
            if used < *limit {
                continue;
            }
            // Room once this many answered ones have left the window.
            let must_leave = used - limit + 1;
            if must_leave > in_window {
                return None;
            }
            let leaving = self.answered[self.answered.len() - in_window + must_leave - 1];
            wait = wait.max(window - (now - leaving));
        }
        Some(wait)
    }

    fn answer(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.answered.push_back(now);
    }

    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self
                .answered
                .back()
                .is_none_or(|t| now - *t >= Duration::from_secs(3600) + MARGIN)
    }
}

#[derive(Debug, Default)]
struct Shared {
    budgets: Mutex<HashMap<String, Budget>>,
    /// Signalled whenever a request is answered.
    answered: Notify,
}

impl Shared {
    fn budgets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Budget>> {
        self.budgets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Budgets by key (a conversation, a method, the whole app).
#[derive(Debug, Default, Clone)]
pub struct Pacer {
    shared: Arc<Shared>,
}

/// The right to send one request; counts it as answered when dropped, so
/// hold it until the answer has arrived (or the request has failed).
#[derive(Debug)]
pub struct Slot {
    shared: Arc<Shared>,
    keys: Vec<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let now = Instant::now();
        {
            let mut budgets = self.shared.budgets();
            for key in &self.keys {
                if let Some(budget) = budgets.get_mut(key) {
                    budget.answer(now);
                }
            }
        }
        self.shared.answered.notify_waiters();
    }
}

impl Pacer {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits (sleeping until the next slot or answer, never polling) until
    /// one more request fits every window of every budget named.
    pub async fn slot(&self, budgets: &[(&str, Windows)]) -> Slot {
        loop {
            let answered = self.shared.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            let now = Instant::now();
            let wait = {
                let mut all = self.shared.budgets();
                if all.len() > MAX_BUDGETS {
                    all.retain(|_, b| !b.idle(now));
                }
                let mut wait = Some(Duration::ZERO);
                for (key, windows) in budgets {
                    let this = all.entry((*key).to_owned()).or_default().wait(windows, now);
                    wait = wait.zip(this).map(|(a, b)| a.max(b));
                }
                if wait == Some(Duration::ZERO) {
                    for (key, _) in budgets {
                        all.entry((*key).to_owned()).or_default().in_flight += 1;
                    }
                }
                wait
            };
            match wait {
                Some(wait) if wait.is_zero() => {
                    return Slot {
                        shared: Arc::clone(&self.shared),
                        keys: budgets.iter().map(|(k, _)| (*k).to_owned()).collect(),
                    };
                }
                Some(wait) => tokio::time::sleep_until(now + wait).await,
                None => answered.await,
            }
        }
    }

    /// Counts, as answered now, a request the platform billed to `key` too.
    pub fn also_counted(&self, key: &str) {
        self.shared
            .budgets()
            .entry(key.to_owned())
            .or_default()
            .answered
            .push_back(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAMS_THREAD: Windows = &[
        (7, Duration::from_secs(1)),
        (8, Duration::from_secs(2)),
        (60, Duration::from_secs(30)),
        (1800, Duration::from_secs(3600)),
    ];

    #[test]
    fn every_window_is_used_in_full_and_not_exceeded() {
        let start = Instant::now();
        let mut budget = Budget::default();
        let mut times = Vec::new();
        let mut now = start;
        while times.len() < 130 {
            match budget.wait(TEAMS_THREAD, now) {
                Some(wait) if wait.is_zero() => {
                    budget.in_flight += 1;
                    times.push(now);
                    budget.answer(now);
                }
                Some(wait) => now += wait,
                None => panic!("nothing in flight to wait for"),
            }
        }
        for (limit, window) in TEAMS_THREAD {
            for (i, t) in times.iter().enumerate().skip(*limit) {
                assert!(
                    *t - times[i - limit] >= *window,
                    "{limit} per {window:?} exceeded"
                );
            }
        }
        // 60 per 30 s: the 61st goes one window (plus margin) after the first.
        assert!(times[60] - start <= Duration::from_secs(31));
        assert!(times[120] - start <= Duration::from_secs(62));
    }

    #[test]
    fn requests_in_flight_hold_their_slots_until_answered() {
        const PER_SECOND: Windows = &[(50, Duration::from_secs(1))];
        let now = Instant::now();
        let mut budget = Budget {
            in_flight: 50,
            ..Budget::default()
        };
        assert_eq!(budget.wait(PER_SECOND, now), None);
        budget.answer(now);
        let wait = budget.wait(PER_SECOND, now).expect("one was answered");
        assert_eq!(wait, Duration::from_secs(1) + MARGIN);
        assert_eq!(budget.wait(PER_SECOND, now + wait), Some(Duration::ZERO));
    }

    #[tokio::test]
    async fn a_full_budget_waits_for_an_answer_and_others_do_not() {
        const ONE: Windows = &[(1, Duration::from_secs(3600))];
        let pacer = Pacer::new();
        let first = pacer.slot(&[("a", ONE)]).await;
        let second = pacer.slot(&[("a", ONE)]);
        tokio::pin!(second);
        tokio::select! {
            biased;
            _ = second.as_mut() => panic!("the budget is full while the first is in flight"),
            () = std::future::ready(()) => {}
        }
        drop(pacer.slot(&[("b", ONE)]).await);
        drop(first);
        // Answered now: the hour-long window has no room until it passes.
        tokio::select! {
            biased;
            _ = second.as_mut() => panic!("the answered request still counts"),
            () = std::future::ready(()) => {}
        }
    }
}
