//! Emulated Graph: PIM for Groups (in progress).

use chrono::{DateTime, Utc};

use crate::sandbox::world::World;

/// PIM for Groups state: eligibility schedules, activation requests and
/// assignment schedule instances.
#[derive(Debug, Clone, Default)]
pub struct PimState {}

impl World {
    /// Makes PIM agree with entitlement management at `now`: delivered
    /// assignments of packages granting a PIM-managed group hold eligibility,
    /// expired ones do not; activations past their end are removed.
    pub(crate) fn sync_pim(&mut self, now: DateTime<Utc>) {
        let _ = now;
    }
}
