//! The engine's notion of now, injectable so the sandbox's emulated clock
//! drives reminders, escalation and expiry in tests, and ISO-8601 durations
//! as Graph writes them.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock (production).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock read through a function: the sandbox passes its emulated clock.
#[derive(Clone)]
pub struct FnClock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl FnClock {
    pub fn new(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }
}

impl Clock for FnClock {
    fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

/// Parses `PT4H`, `P1D`, `PT30M`; years and months are refused because
/// their length depends on the date.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed = iso8601_duration::Duration::parse(text)
        .map_err(|_| format!("`{text}` is not an ISO-8601 duration such as PT4H or P1D"))?;
    if parsed.year != 0.0 || parsed.month != 0.0 {
        return Err(format!("`{text}`: years and months are not supported"));
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

/// Formats as Graph writes durations (`PT4H`, `P1D`).
#[must_use]
pub fn format_duration(duration: Duration) -> String {
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

/// "4 h", "30 min", "1 d 2 h" for people.
#[must_use]
pub fn human_duration(duration: Duration) -> String {
    let mins = duration.num_minutes().max(0);
    let (d, h, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d} d"));
    }
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 || parts.is_empty() {
        parts.push(format!("{m} min"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["PT4H", "P1D", "PT30M", "P1DT2H"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert!(parse_duration("P1M").is_err());
        assert!(parse_duration("4h").is_err());
        assert_eq!(human_duration(Duration::minutes(90)), "1 h 30 min");
    }
}
