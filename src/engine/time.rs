//! The engine's notion of now and durations: see [`crate::time`]; this
//! module adds how durations read to people.

use chrono::Duration;

pub use crate::time::{
    Clock, FnClock, SystemClock, format_iso_duration as format_duration,
    parse_iso_duration as parse_duration,
};

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
    fn durations_read_as_people_write_them() {
        assert_eq!(human_duration(Duration::minutes(90)), "1 h 30 min");
        assert_eq!(human_duration(Duration::days(1)), "1 d");
        assert_eq!(human_duration(Duration::zero()), "0 min");
    }
}
