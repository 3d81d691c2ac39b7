//! The request lifecycle on the emulated clock: stage deadlines, escalation,
//! delivery and assignment expiry.

use chrono::{DateTime, Utc};

use crate::sandbox::world::World;

impl World {
    /// Applies request-lifecycle deadlines due at or before `now`. Idempotent.
    pub(crate) fn run_lifecycle(&mut self, now: DateTime<Utc>) {
        let _ = now;
    }
}
