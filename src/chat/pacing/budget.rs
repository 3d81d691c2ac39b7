//! One budget's reckoning: a request in flight holds a slot in every
//! window until answered, then counts from its answer (see the parent
//! module for why).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Limit, Limits, MARGIN};

/// One budget: requests in flight, and when the answered ones were
/// answered (within the longest window, oldest first).
#[derive(Debug, Default)]
pub(super) struct Budget {
    pub(super) in_flight: usize,
    /// Callers of [`Pacer::slot_within`] waiting for a slot.
    pub(super) waiting: usize,
    pub(super) answered: VecDeque<Instant>,
    /// Callers waiting for this budget by their place in line (arrival
    /// order), each with what wakes it.
    pub(super) line: BTreeMap<u64, Arc<tokio::sync::Notify>>,
    /// The bucket's theoretical arrival time from the answered requests,
    /// and its period.
    pub(super) bucket: Option<(Instant, Duration)>,
}

impl Budget {
    /// How long until one more request fits every window: `Some(zero)`
    /// now, `None` not before a request in flight is answered.
    pub(super) fn wait(&mut self, limits: Limits, now: Instant) -> Option<Duration> {
        let longest = limits
            .iter()
            .filter_map(|l| match l {
                Limit::Window { per, .. } => Some(*per + MARGIN),
                Limit::Bucket { .. } => None,
            })
            .max()
            .unwrap_or_default();
        while self.answered.front().is_some_and(|t| now - *t >= longest) {
            self.answered.pop_front();
        }
        let mut wait = Duration::ZERO;
        for limit in limits {
            let this = match *limit {
                Limit::Window { requests, per } => self.window_wait(requests, per + MARGIN, now),
                Limit::Bucket { burst, every } => self.bucket_wait(burst, every, now),
            };
            wait = wait.max(this?);
        }
        Some(wait)
    }

    fn window_wait(&self, limit: usize, window: Duration, now: Instant) -> Option<Duration> {
        let in_window = self
            .answered
            .iter()
            .rev()
            .take_while(|t| now - **t < window)
            .count();
        let used = in_window + self.in_flight;
        if used < limit {
            return Some(Duration::ZERO);
        }
        // Room once this many answered ones have left the window.
        let must_leave = used - limit + 1;
        if must_leave > in_window {
            return None;
        }
        let leaving = self.answered[self.answered.len() - in_window + must_leave - 1];
        Some(window - (now - leaving))
    }

    /// GCRA: one more is admitted at `x` when the level there (answered
    /// ones drained since, plus every one in flight, plus itself) is at
    /// most `burst`: `max(tat - x, 0) + (in_flight + 1) * every <= burst * every`.
    fn bucket_wait(&mut self, burst: usize, every: Duration, now: Instant) -> Option<Duration> {
        let every = every + MARGIN;
        let tat = match self.bucket {
            Some((tat, _)) => tat,
            None => {
                self.bucket = Some((now, every));
                now
            }
        };
        let spare = burst.checked_sub(self.in_flight + 1)?;
        let allowed_ahead = every * u32::try_from(spare).unwrap_or(u32::MAX);
        Some((tat.saturating_duration_since(now)).saturating_sub(allowed_ahead))
    }

    pub(super) fn answer(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.count(now);
    }

    /// Counts one request as arrived by `now`.
    pub(super) fn count(&mut self, now: Instant) {
        self.answered.push_back(now);
        if let Some((tat, every)) = self.bucket {
            self.bucket = Some((tat.max(now) + every, every));
        }
    }

    pub(super) fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self.waiting == 0
            && self.line.is_empty()
            && self.bucket.is_none_or(|(tat, _)| tat <= now)
            && self
                .answered
                .back()
                .is_none_or(|t| now - *t >= Duration::from_secs(3600) + MARGIN)
    }
}
