//! Graph's wire forms of time: ISO-8601 durations and millisecond UTC
//! timestamps. Shared by the bot's Graph client and the emulated Graph.

use chrono::{DateTime, Duration, Utc};

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
}
