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
//! Two kinds of limit: sliding windows (Teams: N per W) and token buckets
//! (Slack's tiers: a rate with a burst, checked as GCRA). For a bucket,
//! counting each request from its answer (or from now while in flight)
//! can only overstate the bucket's level at any later arrival, never
//! understate it, so the same reckoning is safe for both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

mod budget;

use budget::Budget;

/// One limit a budget keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most `requests` in any window of `per`.
    Window { requests: usize, per: Duration },
    /// One request per `every` on average, up to `burst` at once (GCRA).
    Bucket { burst: usize, every: Duration },
}

/// The limits of one budget (at most one `Bucket`).
pub(crate) type Limits = &'static [Limit];

/// Added to every window: timer granularity only.
const MARGIN: Duration = Duration::from_millis(5);
/// Budgets remembered before idle ones are dropped.
const MAX_BUDGETS: usize = 10_000;

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
pub(crate) struct Pacer {
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
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Waits (sleeping until the next slot or answer, never polling) until
    /// one more request fits every window of every budget named.
    pub(crate) async fn slot(&self, budgets: &[(&str, Limits)]) -> Slot {
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

    /// As [`Self::slot`], unless the slot looks further away than
    /// `patience` — the next one's wait plus one spacing of the limits for
    /// every caller already waiting here. Then `Err` with that estimate,
    /// and nothing is taken: a caller with other work (the outbox) does it
    /// and comes back, instead of idling in a long line.
    pub(crate) async fn slot_within(
        &self,
        budgets: &[(&str, Limits)],
        patience: Duration,
    ) -> Result<Slot, Duration> {
        let estimate = {
            let now = Instant::now();
            let mut all = self.shared.budgets();
            let mut estimate = Duration::ZERO;
            for (key, limits) in budgets {
                let budget = all.entry((*key).to_owned()).or_default();
                let step = spacing(limits);
                let next = budget.wait(limits, now).unwrap_or(step);
                let waiting = u32::try_from(budget.waiting).unwrap_or(u32::MAX);
                estimate = estimate.max(next + step * waiting);
            }
            if estimate <= patience {
                for (key, _) in budgets {
                    all.entry((*key).to_owned()).or_default().waiting += 1;
                }
            }
            estimate
        };
        if estimate > patience {
            return Err(estimate);
        }
        let _waiting = Waiting {
            shared: &self.shared,
            keys: budgets,
        };
        Ok(self.slot(budgets).await)
    }

    /// Counts, as answered now, a request the platform billed to `key` too.
    pub(crate) fn also_counted(&self, key: &str) {
        self.shared
            .budgets()
            .entry(key.to_owned())
            .or_default()
            .count(Instant::now());
    }
}

/// The average time between requests the tightest of `limits` allows.
fn spacing(limits: Limits) -> Duration {
    limits
        .iter()
        .map(|l| match *l {
            Limit::Window { requests, per } => per / u32::try_from(requests.max(1)).unwrap_or(1),
            Limit::Bucket { every, .. } => every,
        })
        .max()
        .unwrap_or_default()
}

/// A caller of [`Pacer::slot_within`] in line, until dropped.
struct Waiting<'a> {
    shared: &'a Shared,
    keys: &'a [(&'a str, Limits)],
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut all = self.shared.budgets();
        for (key, _) in self.keys {
            if let Some(b) = all.get_mut(*key) {
                b.waiting = b.waiting.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn window(requests: usize, seconds: u64) -> Limit {
        Limit::Window {
            requests,
            per: Duration::from_secs(seconds),
        }
    }

    const TEAMS_THREAD: Limits = &[
        window(7, 1),
        window(8, 2),
        window(60, 30),
        window(1800, 3600),
    ];

    /// Departures of `n` requests answered at once, as `limits` admit them.
    fn schedule(n: usize, limits: Limits) -> (Instant, Vec<Instant>) {
        let start = Instant::now();
        let mut budget = Budget::default();
        let mut times = Vec::new();
        let mut now = start;
        while times.len() < n {
            match budget.wait(limits, now) {
                Some(wait) if wait.is_zero() => {
                    budget.in_flight += 1;
                    times.push(now);
                    budget.answer(now);
                }
                Some(wait) => now += wait,
                None => panic!("nothing in flight to wait for"),
            }
        }
        (start, times)
    }

    #[test]
    fn every_window_is_used_in_full_and_not_exceeded() {
        let (start, times) = schedule(130, TEAMS_THREAD);
        for limit in TEAMS_THREAD {
            let Limit::Window { requests, per } = *limit else {
                unreachable!()
            };
            for (i, t) in times.iter().enumerate().skip(requests) {
                assert!(
                    *t - times[i - requests] >= per,
                    "{requests} per {per:?} exceeded"
                );
            }
        }
        // 60 per 30 s: the 61st goes one window (plus margin) after the first.
        assert!(times[60] - start <= Duration::from_secs(31));
        assert!(times[120] - start <= Duration::from_secs(62));
    }

    #[test]
    fn requests_in_flight_hold_their_slots_until_answered() {
        const PER_SECOND: Limits = &[window(50, 1)];
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

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate_as_gcra_does() {
        const TIER_3: Limits = &[Limit::Bucket {
            burst: 50,
            every: Duration::from_millis(1200),
        }];
        let (start, times) = schedule(90, TIER_3);
        assert!(times[49] == start, "the burst of 50 goes at once");
        // Then one per period (plus margin): the 90th 40 periods later.
        let every = Duration::from_millis(1200) + MARGIN;
        assert_eq!(times[50] - start, every);
        assert_eq!(times[89] - start, every * 40);
        // What the emulator's GCRA (50 per minute, burst 50) checks on
        // arrival: no request earlier than TAT - (burst - 1) * period.
        let period = Duration::from_millis(1200);
        let mut tat = start;
        for t in &times {
            assert!(*t + period * 49 >= tat, "GCRA would refuse {t:?}");
            tat = tat.max(*t) + period;
        }
    }

    #[tokio::test]
    async fn a_full_budget_waits_for_an_answer_and_others_do_not() {
        const ONE: Limits = &[window(1, 3600)];
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

    #[tokio::test(start_paused = true)]
    async fn a_caller_with_other_work_is_not_kept_in_a_long_line() {
        const SECOND: Limits = &[Limit::Bucket {
            burst: 1,
            every: Duration::from_secs(1),
        }];
        let patience = Duration::from_millis(2500);
        let pacer = Pacer::new();
        drop(pacer.slot_within(&[("m", SECOND)], patience).await.unwrap());
        // Next slot in ~1 s: two callers get in line (~1 s and ~2 s away).
        let (a, b) = (pacer.clone(), pacer.clone());
        let first =
            tokio::spawn(async move { a.slot_within(&[("m", SECOND)], patience).await.is_ok() });
        tokio::task::yield_now().await;
        let second =
            tokio::spawn(async move { b.slot_within(&[("m", SECOND)], patience).await.is_ok() });
        tokio::task::yield_now().await;
        // A third would wait ~3 s: told so, at once, holding nothing.
        let third = pacer.slot_within(&[("m", SECOND)], patience).await;
        let waited = third.expect_err("a line longer than the patience");
        assert!(
            waited > patience && waited < Duration::from_secs(4),
            "{waited:?}"
        );
        assert!(first.await.unwrap() && second.await.unwrap());
        // Without patience a caller waits its turn, however long.
        drop(pacer.slot(&[("m", SECOND)]).await);
    }
}
