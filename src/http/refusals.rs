//! Rate-limited logging of refused requests. An unauthenticated flood must
//! not write one WARN line per request (disk, log shipping and the reader's
//! attention are resources too), so each source logs its first few refusals
//! per minute and only counts the rest; [`summarise`] writes the counts once
//! per interval.

use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Refusal lines each source writes per minute (as a burst) before it only
/// counts.
pub const LINES_PER_MINUTE: u32 = 10;
/// How often the counts of unlogged refusals are written.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Who refused: each has its own budget, so a flood on one endpoint does
/// not hide refusals on another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Slack,
    Teams,
    Intake,
    /// Requests shed (503) because too many were in flight.
    Overload,
    /// The connection limit was reached; new connections wait.
    Connections,
}

impl Source {
    const ALL: [Self; 5] = [
        Self::Slack,
        Self::Teams,
        Self::Intake,
        Self::Overload,
        Self::Connections,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Intake => "intake",
            Self::Overload => "overload",
            Self::Connections => "connections",
        }
    }
}

/// One source's budget of log lines and its count of unlogged refusals.
pub struct RefusalLog {
    limiter: DefaultDirectRateLimiter,
    unlogged: AtomicU64,
}

impl std::fmt::Debug for RefusalLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefusalLog")
            .field("unlogged", &self.unlogged.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RefusalLog {
    /// A budget of `per_minute` lines, all of which may come at once.
    #[must_use]
    pub fn new(per_minute: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::direct(Quota::per_minute(per_minute)),
            unlogged: AtomicU64::new(0),
        }
    }

    /// True when this refusal may be logged; otherwise it is only counted.
    #[must_use]
    pub fn admit(&self) -> bool {
        if self.limiter.check().is_ok() {
            return true;
        }
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// The refusals counted but not logged since the last call.
    pub fn take_unlogged(&self) -> u64 {
        self.unlogged.swap(0, Ordering::Relaxed)
    }
}

static LOGS: LazyLock<Vec<RefusalLog>> = LazyLock::new(|| {
    let per_minute = NonZeroU32::new(LINES_PER_MINUTE).expect("a positive constant");
    Source::ALL
        .iter()
        .map(|_| RefusalLog::new(per_minute))
        .collect()
});

fn log_of(source: Source) -> &'static RefusalLog {
    // `ALL` lists the sources in declaration order.
    &LOGS[source as usize]
}

/// True when a refusal by `source` may be logged now; the caller then writes
/// its usual WARN line. Otherwise the refusal is counted for [`flush`].
#[must_use]
pub fn admit(source: Source) -> bool {
    log_of(source).admit()
}

/// Writes one line per source that refused requests without logging them.
pub fn flush() {
    for source in Source::ALL {
        let unlogged = log_of(source).take_unlogged();
        if unlogged > 0 {
            tracing::warn!(
                source = source.name(),
                unlogged,
                "refused requests beyond the log budget ({LINES_PER_MINUTE} lines a minute) were counted, not logged"
            );
        }
    }
}

/// Calls [`flush`] every `interval`, forever; the server aborts it when it
/// stops (and flushes once more).
pub async fn summarise(interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; nothing has been counted yet.
    ticker.tick().await;
    loop {
        ticker.tick().await;
        flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_the_budget_then_counts_the_rest() {
        let log = RefusalLog::new(NonZeroU32::new(3).unwrap());
        let admitted = (0..10).filter(|_| log.admit()).count();
        assert_eq!(admitted, 3);
        assert_eq!(log.take_unlogged(), 7);
        assert_eq!(log.take_unlogged(), 0, "the count restarts after a summary");
    }

    #[test]
    fn every_source_has_its_own_budget() {
        for (index, source) in Source::ALL.iter().enumerate() {
            assert_eq!(*source as usize, index, "{}", source.name());
        }
    }
}
