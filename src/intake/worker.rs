//! The queue between the endpoints (which answer at once) and the engine
//! (which may take seconds per reconcile): one task, in arrival order, so a
//! member's add and remove reach the engine in the order Graph sent them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::Intake;
use crate::engine::intake::{Cause, CustomExtensionStage};
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
/// economy: the engine is idempotent.
#[derive(Debug, Default)]
pub(super) struct Dedupe {
    seen: HashMap<String, Instant>,
}

const DEDUPE_WINDOW: Duration = Duration::from_secs(15 * 60);
const DEDUPE_MAX: usize = 10_000;

impl Dedupe {
    pub(super) fn contains(&self, key: &str) -> bool {
        self.seen
            .get(key)
            .is_some_and(|at| at.elapsed() < DEDUPE_WINDOW)
    }

    pub(super) fn insert(&mut self, key: String) {
        if self.seen.len() >= DEDUPE_MAX {
            self.seen.retain(|_, at| at.elapsed() < DEDUPE_WINDOW);
            if self.seen.len() >= DEDUPE_MAX {
                self.seen.clear();
            }
        }
        self.seen.insert(key, Instant::now());
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
        d.insert("a".into());
        assert!(d.contains("a"));
        assert!(!d.contains("b"));
    }
}
