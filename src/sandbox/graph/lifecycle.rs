//! The request lifecycle on the emulated clock: stage deadlines, escalation,
//! delivery and assignment expiry.

use chrono::{DateTime, Utc};

use crate::sandbox::world::World;

impl World {
    /// Applies everything due at or before `now`. Idempotent.
    pub fn advance_to(&mut self, now: DateTime<Utc>) {
        let _ = now;
    }
}
