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

/// Parses an ISO-8601 duration (`PT4H`, `P1D`, `P14D`, `PT0S`) into a chrono
/// duration. Years and months are refused: their length depends on the date.
pub fn parse_iso_duration(text: &str) -> Result<Duration, String> {
    let parsed = iso8601_duration::Duration::parse(text)
        .map_err(|_| format!("`{text}` is not an ISO-8601 duration such as PT4H or P1D"))?;
    if parsed.year != 0.0 || parsed.month != 0.0 {
        return Err(format!(
            "`{text}`: durations in years or months are not supported; use days (P30D)"
        ));
    }
    let seconds = parsed.day as f64 * 86_400.0
        + parsed.hour as f64 * 3_600.0
        + parsed.minute as f64 * 60.0
        + parsed.second as f64;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a non-negative duration"));
    }
    Ok(Duration::milliseconds((seconds * 1000.0).round() as i64))
}

/// Formats a duration the way Graph writes them (`PT4H`, `P1D`, `PT0S`).
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
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

/// Graph's timestamp format: UTC, `Z`, no more than millisecond precision.
pub fn graph_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["PT4H", "P1D", "P14D", "PT0S", "PT8H", "P1DT2H30M"] {
            let d = parse_iso_duration(text).unwrap();
            assert_eq!(format_iso_duration(d), text);
        }
        assert!(parse_iso_duration("P1M").is_err());
        assert!(parse_iso_duration("4 hours").is_err());
    }

    #[test]
    fn advancing_moves_now() {
        let clock = SimClock::new();
        let before = clock.now();
        clock.advance(Duration::hours(8));
        assert!(clock.now() - before >= Duration::hours(8));
    }
}
