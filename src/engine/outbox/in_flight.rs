//! What the outbox worker is delivering right now: the jobs (so one
//! process never delivers a job twice at once) and the lanes their tasks
//! hold (so a lane never takes more than its share of the slots).

use std::collections::HashSet;

use crate::store::outbox::LaneLoad;

/// Marks a job as being delivered by this process until dropped.
pub(super) struct Delivering<'a> {
    ids: &'a std::sync::Mutex<HashSet<i64>>,
    id: i64,
}

impl<'a> Delivering<'a> {
    /// `None` if this process is already delivering the job (its lease ran
    /// out while the renewal was late, and the claim picked it up again).
    pub(super) fn enter(ids: &'a std::sync::Mutex<HashSet<i64>>, id: i64) -> Option<Self> {
        let fresh = ids.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        fresh.then_some(Self { ids, id })
    }
}

/// The worker's delivery tasks and the lanes they hold.
#[derive(Default)]
pub(super) struct InFlight {
    lane_of: std::collections::HashMap<tokio::task::Id, String>,
    pub(super) lanes: LaneLoad,
}

impl InFlight {
    pub(super) fn started(&mut self, task: tokio::task::Id, lane: String) {
        *self.lanes.entry(lane.clone()).or_default() += 1;
        self.lane_of.insert(task, lane);
    }

    /// A task ended, returning or panicking: its lane has room again.
    pub(super) fn finished(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let task = match done {
            Ok((task, ())) => task,
            Err(e) => {
                tracing::error!(error = %e, "outbox delivery task failed");
                e.id()
            }
        };
        let Some(lane) = self.lane_of.remove(&task) else {
            return;
        };
        if let Some(n) = self.lanes.get_mut(&lane) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.lanes.remove(&lane);
            }
        }
    }
}

impl Drop for Delivering<'_> {
    fn drop(&mut self) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}
