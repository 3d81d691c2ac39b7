//! Teams' rate limits for bots (docs/architecture.md, "Teams rate limits";
//! Microsoft's `bots/how-to/rate-limit` page):
//! per bot per thread, sliding windows of 1 s / 2 s / 30 s / 1 h, and a
//! global limit per app per tenant of 50 requests per second. Counted on
//! real time, not the emulated clock: throttling is about the wall clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// (operations, window) pairs for one kind of operation.
type Windows = &'static [(usize, Duration)];

/// Send to conversation (send, reply, update) and create conversation.
pub const SEND: Windows = &[
    (7, Duration::from_secs(1)),
    (8, Duration::from_secs(2)),
    (60, Duration::from_secs(30)),
    (1800, Duration::from_secs(3600)),
];
/// Get conversation members.
pub const READ: Windows = &[
    (14, Duration::from_secs(1)),
    (16, Duration::from_secs(2)),
    (120, Duration::from_secs(30)),
    (3600, Duration::from_secs(3600)),
];
/// "The global limit per app per tenant is 50 Requests Per Second."
pub const PER_APP: Windows = &[(50, Duration::from_secs(1))];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Send,
    Read,
}

/// Request times in the last hour, per key.
#[derive(Debug, Default)]
pub struct Limits {
    per_thread: BTreeMap<(Operation, String), Window>,
    per_app: Window,
}

#[derive(Debug, Default)]
struct Window {
    times: VecDeque<Instant>,
}

impl Window {
    /// `Err(retry_after)` if one more request now would exceed a limit.
    fn check(&mut self, windows: Windows, now: Instant) -> Result<(), Duration> {
        let longest = windows.iter().map(|(_, w)| *w).max().unwrap_or_default();
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= longest)
        {
            self.times.pop_front();
        }
        let mut wait = Duration::ZERO;
        for (limit, window) in windows {
            let in_window: Vec<&Instant> = self
                .times
                .iter()
                .filter(|t| now.duration_since(**t) < *window)
                .collect();
            if in_window.len() >= *limit {
                // The request may go once enough of the oldest ones age out.
                let oldest_needed = in_window[in_window.len() - limit];
                wait = wait.max(*window - now.duration_since(*oldest_needed));
            }
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        Ok(())
    }

    fn record(&mut self, now: Instant) {
        self.times.push_back(now);
    }
}

impl Limits {
    /// Admits one operation on `thread`, or says how long to wait. A refused
    /// request is not counted, as Teams does not bill throttled calls.
    pub fn admit(&mut self, operation: Operation, thread: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let windows = match operation {
            Operation::Send => SEND,
            Operation::Read => READ,
        };
        let key = (operation, thread.to_owned());
        let per_thread = self.per_thread.entry(key).or_default();
        per_thread.check(windows, now)?;
        self.per_app.check(PER_APP, now)?;
        per_thread.record(now);
        self.per_app.record(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eighth_send_in_a_second_is_refused_with_a_wait() {
        let mut limits = Limits::default();
        for _ in 0..7 {
            assert!(limits.admit(Operation::Send, "a:1").is_ok());
        }
        let wait = limits.admit(Operation::Send, "a:1").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1));
        // Another conversation has its own budget.
        assert!(limits.admit(Operation::Send, "a:2").is_ok());
    }

    #[test]
    fn reads_have_twice_the_budget() {
        let mut limits = Limits::default();
        for _ in 0..14 {
            assert!(limits.admit(Operation::Read, "a:1").is_ok());
        }
        assert!(limits.admit(Operation::Read, "a:1").is_err());
    }

    #[test]
    fn the_app_budget_spans_conversations() {
        let mut limits = Limits::default();
        for i in 0..50 {
            assert!(limits.admit(Operation::Send, &format!("a:{i}")).is_ok());
        }
        assert!(limits.admit(Operation::Send, "a:fresh").is_err());
    }
}
