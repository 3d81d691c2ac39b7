//! The reconciling poller: every interval, `reconcile_open()`. Graph has no
//! change notifications for entitlement management, so this is the only
//! source of stage-to-stage progress and the safety net for lost callouts.
//! It ticks once at start (catch-up after downtime), then every interval,
//! and at once when [`super::Intake::poll_now`] is called.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::Intake;
use crate::engine::intake::IntakeSink;

pub(crate) struct Poller {
    sink: Arc<dyn IntakeSink>,
    interval: Duration,
}

impl Poller {
    pub(crate) fn new(sink: Arc<dyn IntakeSink>, interval: Duration) -> Self {
        Self { sink, interval }
    }

    pub(crate) async fn run(self, intake: Intake, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        // A reconcile slower than the interval must not be followed by a
        // burst of catch-up ticks.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = ticker.tick() => {}
                _ = intake.inner.poll_now.notified() => ticker.reset(),
            }
            tracing::debug!("poll: reconciling open requests");
            // A reconcile in progress finishes before shutdown is noticed;
            // the shutdown grace bounds it.
            self.sink.reconcile_open().await;
        }
    }
}
