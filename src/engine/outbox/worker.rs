//! The worker loop: how many jobs are claimed, when, and how shutdown
//! drains them. What happens to one job is `handle`'s business.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};

use super::in_flight::InFlight;
use crate::engine::{Engine, EngineError};
use crate::store::outbox::{LaneLoad, OutboxRow};

/// Jobs delivered at once. Each waits inside its chat client for its own
/// conversation's slot (the clients keep the platforms' limits), so jobs
/// for other conversations are not held up behind it. A waiting job keeps
/// renewing its lease, so however long it waits it is never claimed again.
const IN_FLIGHT: usize = 32;
/// Jobs of one lane (one person's chats, one channel) delivered at once.
/// The chat clients send one request per conversation at a time anyway;
/// a few queued keep that conversation busy while leaving the other
/// delivery slots to everyone else.
const PER_LANE: usize = 4;
/// How long shutdown waits for deliveries in flight before cutting them
/// off (a job cut off is retried when its lease ends).
const DRAIN_ON_SHUTDOWN: StdDuration = StdDuration::from_secs(5);

impl Engine {
    /// Runs the worker until `shutdown` resolves: claims as many due jobs
    /// as there are free delivery slots (at most [`PER_LANE`] of a lane at
    /// once) and delivers each in its own task.
    pub async fn run_outbox(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tasks = tokio::task::JoinSet::new();
        let mut in_flight = InFlight::default();
        loop {
            while let Some(done) = tasks.try_join_next_with_id() {
                in_flight.finished(done);
            }
            let free = IN_FLIGHT.saturating_sub(tasks.len());
            let mut claimed = 0;
            if free > 0 {
                match self.claim(free, &in_flight.lanes).await {
                    Ok(rows) => {
                        claimed = rows.len();
                        for row in rows {
                            let lane = row.lane.clone();
                            let engine = Arc::clone(&self);
                            let task = tasks.spawn(async move {
                                if let Err(e) = engine.handle(row).await {
                                    tracing::error!(error = %e, "outbox job not recorded");
                                }
                            });
                            in_flight.started(task.id(), lane);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "outbox claim failed"),
                }
            }
            if free > 0 && claimed == free {
                continue;
            }
            let wait = if free == 0 {
                StdDuration::from_secs(1)
            } else {
                self.next_due_in(&in_flight.lanes).await
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = self.delivery.wake.notified() => {}
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => in_flight.finished(done),
                () = tokio::time::sleep(wait) => {}
            }
        }
        let drained = tokio::time::timeout(DRAIN_ON_SHUTDOWN, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                cut_off = tasks.len(),
                "outbox deliveries cut off at shutdown; retried when their leases end"
            );
        }
    }

    /// How long until a job of a lane with room falls due.
    async fn next_due_in(&self, lanes: &LaneLoad) -> StdDuration {
        let fallback = StdDuration::from_secs(1);
        let full: Vec<&str> = lanes
            .iter()
            .filter(|(_, n)| **n >= PER_LANE)
            .map(|(lane, _)| lane.as_str())
            .collect();
        match self.ctx.store.outbox_next_due(&full).await {
            Ok(Some(due)) => {
                let ms = (due - Utc::now().timestamp_millis()).clamp(5, 1000);
                StdDuration::from_millis(ms as u64)
            }
            _ => fallback,
        }
    }

    async fn claim(&self, limit: usize, lanes: &LaneLoad) -> Result<Vec<OutboxRow>, EngineError> {
        let now = Utc::now();
        let lease = now + Duration::seconds(self.ctx.settings.outbox_lease_seconds.max(1));
        Ok(self
            .ctx
            .store
            .claim_due_in_lanes(
                now,
                lease,
                i64::try_from(limit).unwrap_or(16),
                i64::try_from(PER_LANE).unwrap_or(4),
                lanes,
            )
            .await?)
    }

    /// Claims and delivers what is due, concurrently; returns how many jobs
    /// it handled.
    pub async fn outbox_pass(self: &Arc<Self>) -> Result<usize, EngineError> {
        let rows = self.claim(IN_FLIGHT, &LaneLoad::new()).await?;
        let n = rows.len();
        let mut tasks = tokio::task::JoinSet::new();
        for row in rows {
            let engine = Arc::clone(self);
            tasks.spawn(async move { engine.handle(row).await });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Err(e)) = done {
                return Err(e);
            }
        }
        Ok(n)
    }

    /// Tells the worker jobs were queued straight into the store.
    pub fn wake_outbox(&self) {
        self.delivery.wake.notify_one();
    }

    /// Resolves when no job is pending or in flight.
    pub async fn outbox_idle(&self) {
        loop {
            let progress = self.delivery.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            match self.ctx.store.outbox_backlog().await.map(|(n, _)| n) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "outbox backlog unreadable");
                    return;
                }
            }
            self.delivery.wake.notify_one();
            progress.await;
        }
    }
}
