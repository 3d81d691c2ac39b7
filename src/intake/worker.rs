//! The queue between the endpoints (which answer at once) and the engine
//! (which may take seconds per reconcile): one task, in arrival order, so a
//! member's add and remove reach the engine in the order Graph sent them.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::Intake;
use crate::engine::intake::{Cause, CustomExtensionStage};
use crate::expiring::{ExpiringSet, Full};
use stagegate_domain::ids::{ObjectId, RequestId};

/// A `lifecycleEvent` of a Graph subscription (changeNotification.lifecycleEvent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LifecycleEvent {
    ReauthorizationRequired,
    SubscriptionRemoved,
    Missed,
}

impl LifecycleEvent {
    /// `None` for values this build does not know (the enum is evolvable).
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reauthorizationRequired" => Some(Self::ReauthorizationRequired),
            "subscriptionRemoved" => Some(Self::SubscriptionRemoved),
            "missed" => Some(Self::Missed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LifecycleNotice {
    pub subscription_id: String,
    pub event: LifecycleEvent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Work {
    Membership {
        group: ObjectId,
        member: ObjectId,
        added: bool,
        /// `{subscriptionId}/{id}` of the notification, when it had an id.
        notification: Option<String>,
    },
    Lifecycle(LifecycleNotice),
    Callout {
        request: RequestId,
        stage: CustomExtensionStage,
    },
}

/// Notification ids seen recently. Graph redelivers a notification it got
/// no 2xx for; an id seen within the window is not queued twice. Purely an
/// economy (the engine is idempotent), but bounded without forgetting: at
/// most [`DEDUPE_MAX`] ids inside the window, expired in O(1) amortised
/// (see [`ExpiringSet`]); when full, the notification is refused with 503
/// and `Retry-After` (Graph redelivers it) instead of an id still inside its
/// window being forgotten.
#[derive(Debug)]
pub(super) struct Dedupe {
    seen: ExpiringSet<String>,
}

pub(super) const DEDUPE_WINDOW: Duration = Duration::from_secs(15 * 60);
pub(super) const DEDUPE_MAX: usize = 10_000;

impl Default for Dedupe {
    fn default() -> Self {
        Self {
            seen: ExpiringSet::new(DEDUPE_WINDOW, DEDUPE_MAX),
        }
    }
}

impl Dedupe {
    pub(super) fn contains(&mut self, key: &str) -> bool {
        self.seen.contains(&key.to_owned(), Instant::now())
    }

    /// How many more ids fit now.
    pub(super) fn room(&mut self) -> usize {
        self.seen.room(Instant::now())
    }

    /// Remembers `key` for the window; `Err(Full)` (nothing forgotten)
    /// when [`DEDUPE_MAX`] ids are inside it.
    pub(super) fn insert(&mut self, key: String) -> Result<bool, Full> {
        self.seen.insert(key, Instant::now())
    }
}

pub(super) async fn run(
    intake: Intake,
    mut rx: mpsc::Receiver<Work>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            item = rx.recv() => match item {
                Some(work) => handle(&intake, work).await,
                None => return,
            },
            _ = stop.changed() => {
                // Finish what was already answered 202; accept nothing new.
                rx.close();
                while let Some(work) = rx.recv().await {
                    handle(&intake, work).await;
                }
                return;
            }
        }
    }
}

async fn handle(intake: &Intake, work: Work) {
    let sink = &intake.inner.sink;
    match work {
        Work::Membership {
            group,
            member,
            added,
            notification,
        } => {
            sink.membership_notified(group, member, added, notification)
                .await;
        }
        Work::Callout { request, stage } => {
            sink.reconcile(request, Cause::Callout { stage }).await;
        }
        Work::Lifecycle(notice) => {
            if intake.inner.lifecycle.send(notice.clone()).is_err() {
                tracing::warn!(
                    subscription = %notice.subscription_id,
                    event = ?notice.event,
                    "lifecycle notification but no subscription manager runs"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_events_by_their_graph_names() {
        assert_eq!(
            LifecycleEvent::parse("reauthorizationRequired"),
            Some(LifecycleEvent::ReauthorizationRequired)
        );
        assert_eq!(
            LifecycleEvent::parse("subscriptionRemoved"),
            Some(LifecycleEvent::SubscriptionRemoved)
        );
        assert_eq!(
            LifecycleEvent::parse("missed"),
            Some(LifecycleEvent::Missed)
        );
        assert_eq!(LifecycleEvent::parse("unknownFutureValue"), None);
    }

    #[test]
    fn dedupe_remembers_ids() {
        let mut d = Dedupe::default();
        assert!(!d.contains("a"));
        let _ = d.insert("a".into());
        assert!(d.contains("a"));
        assert!(!d.contains("b"));
    }

    /// The old set `clear()`ed itself when full, forgetting every id still
    /// inside its window, so a redelivery (or a replay) was queued again.
    #[test]
    fn a_full_dedupe_still_refuses_a_replay_inside_its_window() {
        let mut d = Dedupe::default();
        for i in 0..DEDUPE_MAX {
            let _ = d.insert(format!("sub/{i}"));
        }
        // One more: refused, not made room for by forgetting.
        let _ = d.insert("sub/one-too-many".into());
        assert!(
            d.contains("sub/0"),
            "the oldest id is still inside its window"
        );
        assert!(d.contains(&format!("sub/{}", DEDUPE_MAX - 1)));
        assert!(!d.contains("sub/one-too-many"));
    }
}
