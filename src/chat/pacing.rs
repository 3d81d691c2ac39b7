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
//!
//! Callers wait in line, first come first served, one line per budget:
//! only the head of a line looks at its budget and sleeps until its slot
//! (or an answer); the next is woken when the head leaves. So an answer or
//! a slot wakes one caller, not every one waiting (which cost CPU in
//! proportion to the line on every answer). A caller naming several
//! budgets takes them in the order named, holding the ones taken: every
//! caller names them in the same order (a Teams thread, then the app), so
//! no two wait for each other. A line holds at most the pacer's
//! `max_line` callers; one more is refused at once ([`LineFull`]).

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

/// A budget's line is full: the caller is refused without waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests are already waiting for this budget")]
pub(crate) struct LineFull;

#[derive(Debug, Default)]
struct State {
    budgets: HashMap<String, Budget>,
    /// The next caller's place in line (increasing: arrival order).
    next_ticket: u64,
    /// Callers woken so far, for tests to check that one answer wakes one.
    wakes: u64,
}

impl State {
    /// Wakes the caller at the head of `key`'s line, if any.
    fn wake_head(&mut self, key: &str) {
        if let Some((_, head)) = self.budgets.get(key).and_then(|b| b.line.first_key_value()) {
            head.notify_one();
            self.wakes += 1;
        }
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    max_line: usize,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Budgets by key (a conversation, a method, the whole app).
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    shared: Arc<Shared>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
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
        let mut state = self.shared.state();
        for key in &self.keys {
            if let Some(budget) = state.budgets.get_mut(key) {
                budget.answer(now);
            }
            state.wake_head(key);
        }
    }
}

/// A caller's place while it takes its budgets: the line it stands in and
/// the budgets already taken. Dropped before the slot is complete (the
/// caller gave up), it leaves the line and gives back what it took.
struct Place<'a> {
    shared: &'a Arc<Shared>,
    line: Option<(String, u64)>,
    taken: Vec<String>,
}

impl Place<'_> {
    fn leave_line(&mut self, state: &mut State) {
        if let Some((key, ticket)) = self.line.take() {
            let was_head = state.budgets.get_mut(&key).is_some_and(|b| {
                let head = b.line.first_key_value().is_some_and(|(t, _)| *t == ticket);
                b.line.remove(&ticket);
                head
            });
            if was_head {
                state.wake_head(&key);
            }
        }
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        self.leave_line(&mut state);
        for key in self.taken.drain(..) {
            if let Some(b) = state.budgets.get_mut(&key) {
                b.in_flight = b.in_flight.saturating_sub(1);
            }
            state.wake_head(&key);
        }
    }
}

impl Pacer {
    /// A pacer whose lines are as long as callers make them (bounded by
    /// the caller, as Teams' one turn per thread does).
    #[must_use]
    pub(crate) fn new() -> Self {
        Self::with_max_line(usize::MAX)
    }

    /// A pacer that refuses a caller when `max_line` already wait for one
    /// of its budgets.
    #[must_use]
    pub(crate) fn with_max_line(max_line: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                max_line,
            }),
        }
    }

    /// Waits in line (sleeping until the next slot or answer, never
    /// polling) until one more request fits every window of every budget
    /// named; `Err` at once when a line is full.
    pub(crate) async fn slot(&self, budgets: &[(&str, Limits)]) -> Result<Slot, LineFull> {
        let mut place = Place {
            shared: &self.shared,
            line: None,
            taken: Vec::with_capacity(budgets.len()),
        };
        for (key, limits) in budgets {
            self.take(key, limits, &mut place).await?;
        }
        Ok(Slot {
            shared: Arc::clone(&self.shared),
            keys: std::mem::take(&mut place.taken),
        })
    }

    /// Takes one budget: at once when nobody is in its line and it has
    /// room, else in line until at its head with room.
    async fn take(&self, key: &str, limits: Limits, place: &mut Place<'_>) -> Result<(), LineFull> {
        let me = Arc::new(Notify::new());
        {
            let mut state = self.shared.state();
            if state.budgets.len() > MAX_BUDGETS {
                let now = Instant::now();
                state.budgets.retain(|_, b| !b.idle(now));
            }
            let budget = state.budgets.entry(key.to_owned()).or_default();
            if budget.line.is_empty() && budget.wait(limits, Instant::now()) == Some(Duration::ZERO)
            {
                budget.in_flight += 1;
                place.taken.push(key.to_owned());
                return Ok(());
            }
            if budget.line.len() >= self.shared.max_line {
                return Err(LineFull);
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            if let Some(b) = state.budgets.get_mut(key) {
                b.line.insert(ticket, Arc::clone(&me));
            }
            place.line = Some((key.to_owned(), ticket));
        }
        loop {
            let woken = me.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let now = Instant::now();
            let wait = {
                let mut state = self.shared.state();
                let ticket = place.line.as_ref().map(|(_, t)| *t);
                let budget = state.budgets.entry(key.to_owned()).or_default();
                let head = budget.line.first_key_value().map(|(t, _)| *t) == ticket;
                // Behind someone: woken when they leave.
                let wait = if head { budget.wait(limits, now) } else { None };
                if wait == Some(Duration::ZERO) {
                    budget.in_flight += 1;
                    place.leave_line(&mut state);
                    place.taken.push(key.to_owned());
                    return Ok(());
                }
                wait
            };
            match wait {
                Some(wait) => {
                    // An answer can bring a bucket's slot closer.
                    tokio::select! {
                        () = tokio::time::sleep_until(now + wait) => {}
                        () = &mut woken => {}
                    }
                }
                None => woken.await,
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
            let mut state = self.shared.state();
            let all = &mut state.budgets;
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
        self.slot(budgets).await.map_err(|LineFull| estimate)
    }

    /// Counts, as answered now, a request the platform billed to `key` too.
    pub(crate) fn also_counted(&self, key: &str) {
        self.shared
            .state()
            .budgets
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
        let mut state = self.shared.state();
        for (key, _) in self.keys {
            if let Some(b) = state.budgets.get_mut(*key) {
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
        let first = pacer.slot(&[("a", ONE)]).await.unwrap();
        let second = pacer.slot(&[("a", ONE)]);
        tokio::pin!(second);
        tokio::select! {
            biased;
            _ = second.as_mut() => panic!("the budget is full while the first is in flight"),
            () = std::future::ready(()) => {}
        }
        drop(pacer.slot(&[("b", ONE)]).await.unwrap());
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
        drop(pacer.slot(&[("m", SECOND)]).await.unwrap());
    }

    /// Callers in line are served in arrival order, one woken per answer;
    /// a full line refuses at once.
    #[tokio::test(start_paused = true)]
    async fn a_line_is_served_first_come_first_served_and_bounded() {
        const ONE_AT_A_TIME: Limits = &[window(1, 1)];
        let pacer = Pacer::with_max_line(4);
        let held = pacer.slot(&[("t", ONE_AT_A_TIME)]).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for i in 0..4 {
            let (p, order) = (pacer.clone(), Arc::clone(&order));
            waiters.push(tokio::spawn(async move {
                let slot = p.slot(&[("t", ONE_AT_A_TIME)]).await.unwrap();
                order.lock().unwrap().push(i);
                drop(slot);
            }));
            // Each in line before the next arrives.
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pacer.slot(&[("t", ONE_AT_A_TIME)]).await.err(),
            Some(LineFull),
            "a fifth in line is refused"
        );
        drop(held);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    /// Only the head of a line is woken by an answer: the others sleep on.
    #[tokio::test]
    async fn an_answer_wakes_the_head_of_the_line_only() {
        const ONE: Limits = &[window(1, 3600)];
        let pacer = Pacer::new();
        let held = pacer.slot(&[("x", ONE)]).await.unwrap();
        let mut line = Vec::new();
        for _ in 0..100 {
            let p = pacer.clone();
            let mut f = Box::pin(async move { p.slot(&[("x", ONE)]).await.map(drop) });
            tokio::select! { biased; _ = f.as_mut() => panic!("full"), () = std::future::ready(()) => {} }
            line.push(f);
        }
        let before = pacer.shared.state().wakes;
        drop(held);
        assert_eq!(
            pacer.shared.state().wakes - before,
            1,
            "one caller woken per answer, not all 100"
        );
        drop(line);
        assert!(
            pacer.shared.state().budgets["x"].line.is_empty(),
            "gave-up callers leave the line"
        );
    }
}
