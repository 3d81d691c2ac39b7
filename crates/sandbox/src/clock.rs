//! The sandbox's emulated clock: wall-clock time plus an offset that tests and
//! the console advance. Workflow time (deadlines, escalation, expiry) runs on
//! it; token lifetimes stay on real time so the bot's own validation of tokens
//! is unaffected by jumps.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

#[derive(Debug)]
pub struct SimClock {
    offset: Mutex<Duration>,
    advanced: watch::Sender<DateTime<Utc>>,
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimClock {
    pub fn new() -> Self {
        let (advanced, _) = watch::channel(Utc::now());
        Self {
            offset: Mutex::new(Duration::zero()),
            advanced,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().expect("clock lock")
    }

    pub fn offset(&self) -> Duration {
        *self.offset.lock().expect("clock lock")
    }

    /// Moves emulated time forward and wakes everything waiting on
    /// [`SimClock::subscribe`]. Negative durations are refused by callers.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        {
            let mut offset = self.offset.lock().expect("clock lock");
            *offset += by;
        }
        let now = self.now();
        self.advanced.send_replace(now);
        now
    }

    /// A receiver that changes whenever the clock is advanced.
    pub fn subscribe(&self) -> watch::Receiver<DateTime<Utc>> {
        self.advanced.subscribe()
    }
}

pub use stagegate_domain::time::{format_iso_duration, graph_time, parse_iso_duration};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now() {
        let clock = SimClock::new();
        let before = clock.now();
        clock.advance(Duration::hours(8));
        assert!(clock.now() - before >= Duration::hours(8));
    }
}
