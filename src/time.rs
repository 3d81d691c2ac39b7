//! Time, shared by the bot and the sandbox: the injectable clock (the
//! sandbox's emulated clock drives reminders, escalation, expiry and
//! subscription renewal in tests) and ISO-8601 durations as Graph writes them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// Where "now" comes from.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves when the clock jumps (an emulated clock being advanced), so
    /// sleepers re-plan at once; a jump since the previous call is not lost.
    /// Wall-clock time never jumps.
    async fn jumped(&self) {
        std::future::pending::<()>().await;
    }
}

/// The machine's clock (production).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock read through a function, optionally with a signal of jumps: the
/// sandbox passes its emulated clock and its `subscribe()` channel.
#[derive(Clone)]
pub struct FnClock {
    now: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    jumps: Option<Arc<Mutex<watch::Receiver<DateTime<Utc>>>>>,
}

impl FnClock {
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self {
            now: Arc::new(now),
            jumps: None,
        }
    }

    /// Also wakes [`Clock::jumped`] whenever `jumps` changes.
    #[must_use]
    pub fn with_jumps(mut self, jumps: watch::Receiver<DateTime<Utc>>) -> Self {
        self.jumps = Some(Arc::new(Mutex::new(jumps)));
        self
    }
}

#[async_trait]
impl Clock for FnClock {
    fn now(&self) -> DateTime<Utc> {
        (self.now)()
    }

    async fn jumped(&self) {
        let Some(jumps) = &self.jumps else {
            return std::future::pending::<()>().await;
        };
        // A clone shares the "seen" version, so a jump between two calls is
        // still reported; the lock is never held across the await.
        let mut rx = jumps.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if rx.changed().await.is_err() {
            return std::future::pending::<()>().await;
        }
        let seen = rx.borrow_and_update().to_owned();
        let mut shared = jumps.lock().unwrap_or_else(|p| p.into_inner());
        if *shared.borrow() <= seen {
            shared.mark_unchanged();
        }
    }
}

pub use stagegate_domain::time::{format_iso_duration, graph_time, parse_iso_duration};

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[tokio::test]
    async fn fn_clock_reports_jumps_once() {
        let (tx, rx) = watch::channel(Utc::now());
        let clock = FnClock::new(Utc::now).with_jumps(rx);
        tx.send_replace(Utc::now() + Duration::hours(1));
        tokio::time::timeout(std::time::Duration::from_secs(1), clock.jumped())
            .await
            .expect("a jump is reported");
        let again =
            tokio::time::timeout(std::time::Duration::from_millis(50), clock.jumped()).await;
        assert!(again.is_err(), "the same jump is not reported twice");
    }
}
