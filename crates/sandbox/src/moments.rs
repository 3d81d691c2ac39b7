//! Real-time moments the emulators note on every message they hold, for
//! the bench's latency figures (`crates/lab/src/bench/latency/`): when the bot posted
//! it, when each update landed, and when each click or submission on it
//! arrived at the driver. Monotonic time ([`Instant`]), not the emulated
//! workflow clock, and never part of what the bot or a client sees.
//!
//! A few entries per message: one per update and one per click.

use std::time::Instant;

/// When one message was posted, updated and clicked.
#[derive(Debug, Clone)]
pub struct MessageMoments {
    pub posted: Instant,
    /// One entry per update, oldest first (Teams: `versions[1..]`; Slack:
    /// `chat.update` and `response_url` replacements).
    pub updated: Vec<Instant>,
    /// Who clicked (Teams: Entra object id; Slack: user id) and when the
    /// click or submission arrived at the driver, oldest first.
    pub clicked: Vec<(String, Instant)>,
}

impl MessageMoments {
    /// A message posted now.
    #[must_use]
    pub fn posted_now() -> Self {
        Self {
            posted: Instant::now(),
            updated: Vec::new(),
            clicked: Vec::new(),
        }
    }

    /// Notes an update that landed now.
    pub fn note_update(&mut self) {
        self.updated.push(Instant::now());
    }

    /// Notes a click by `who` that arrived at `at`.
    pub fn note_click(&mut self, who: &str, at: Instant) {
        self.clicked.push((who.to_owned(), at));
    }

    /// When the message took the form it has now: its last update, or its
    /// post when never updated.
    #[must_use]
    pub fn last_change(&self) -> Instant {
        self.updated.last().copied().unwrap_or(self.posted)
    }

    /// The last click by `who` that arrived no later than `by`.
    #[must_use]
    pub fn last_click_by(&self, who: &str, by: Instant) -> Option<Instant> {
        self.clicked
            .iter()
            .filter(|(w, at)| w == who && *at <= by)
            .map(|(_, at)| *at)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn last_change_is_the_post_until_an_update_lands() {
        let mut m = MessageMoments::posted_now();
        assert_eq!(m.last_change(), m.posted);
        m.note_update();
        m.note_update();
        assert_eq!(m.updated.len(), 2);
        assert_eq!(m.last_change(), m.updated[1]);
        assert!(m.last_change() >= m.posted);
    }

    #[test]
    fn the_last_click_by_a_person_before_a_moment() {
        let mut m = MessageMoments::posted_now();
        let t0 = m.posted;
        m.note_click("a", t0 + Duration::from_millis(1));
        m.note_click("b", t0 + Duration::from_millis(2));
        m.note_click("a", t0 + Duration::from_millis(3));
        m.note_click("a", t0 + Duration::from_millis(9));
        let by = t0 + Duration::from_millis(5);
        assert_eq!(
            m.last_click_by("a", by),
            Some(t0 + Duration::from_millis(3))
        );
        assert_eq!(
            m.last_click_by("b", by),
            Some(t0 + Duration::from_millis(2))
        );
        assert_eq!(m.last_click_by("c", by), None);
        assert_eq!(m.last_click_by("a", t0), None);
    }
}
