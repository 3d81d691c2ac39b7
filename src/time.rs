//! Time, shared by the bot and the sandbox: the injectable clock (the
//! sandbox's emulated clock drives reminders, escalation, expiry and
//! subscription renewal in tests) and ISO-8601 durations as Graph writes them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
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

/// Parses an ISO-8601 duration (`PT4H`, `P1D`, `P14D`, `PT0S`). Years and
/// months are refused: their length depends on the date.
pub fn parse_iso_duration(text: &str) -> Result<Duration, String> {
    let parsed = iso8601_duration::Duration::parse(text)
        .map_err(|_| format!("`{text}` is not an ISO-8601 duration such as PT4H or P1D"))?;
    if parsed.year != 0.0 || parsed.month != 0.0 {
        return Err(format!(
            "`{text}`: durations in years or months are not supported; use days (P30D)"
        ));
    }
    let seconds = f64::from(parsed.day) * 86_400.0
        + f64::from(parsed.hour) * 3_600.0
        + f64::from(parsed.minute) * 60.0
        + f64::from(parsed.second);
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a non-negative duration"));
    }
    Ok(Duration::milliseconds((seconds * 1000.0).round() as i64))
}

/// Formats a duration the way Graph writes them (`PT4H`, `P1D`, `PT0S`).
#[must_use]
pub fn format_iso_duration(duration: Duration) -> String {
    let mut secs = duration.num_seconds().max(0);
    if secs == 0 {
        return "PT0S".into();
    }
    let days = secs / 86_400;
    secs %= 86_400;
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if secs > 0 {
        out.push('T');
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        for (n, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
            if n > 0 {
                out.push_str(&format!("{n}{unit}"));
            }
        }
    }
    out
}

/// Graph's timestamp format: UTC, `Z`, millisecond precision.
#[must_use]
pub fn graph_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["PT4H", "P1D", "P14D", "PT0S", "PT8H", "PT30M", "P1DT2H30M"] {
            let d = parse_iso_duration(text).unwrap();
            assert_eq!(format_iso_duration(d), text);
        }
        assert!(parse_iso_duration("P1M").is_err());
        assert!(parse_iso_duration("4 hours").is_err());
    }

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
