//! Reconcile: read Graph, plan what is owed, queue it. Serialized per
//! request; the plan's keys and the jobs are written in one transaction, so
//! duplicate and reordered triggers are harmless.

use async_trait::async_trait;
use chrono::Duration;

use super::intake::{Cause, IntakeSink};
use super::jobs::{Job, job_for};
use super::view::Snapshot;
use super::{Engine, EngineError};
use crate::chat::port::Message;
use crate::graph::{em, pim};
use crate::store::engine::RequestRow;
use stagegate_domain::approval::RequestState;
use stagegate_domain::ids::{ObjectId, RequestId};
use stagegate_domain::planner::{Effect, plan};

/// States in which a request still needs watching.
pub(crate) const OPEN_STATES: [RequestState; 4] = [
    RequestState::Submitted,
    RequestState::PendingApproval,
    RequestState::Delivering,
    RequestState::Delivered,
];

/// One async mutex per request being reconciled, so concurrent triggers
/// for the same request run one after the other. Held weakly: a request
/// nobody is reconciling costs no memory.
pub(super) type RequestLocks = crate::locks::KeyedLocks<RequestId>;

impl Engine {
    /// Brings chat in line with Graph for one request.
    pub async fn reconcile(&self, id: &RequestId) -> Result<(), EngineError> {
        let lock = self.locks.of(id);
        let _guard = lock.lock().await;
        let Some(snapshot) = self.snapshot(id).await? else {
            return Ok(());
        };
        let done = self.ctx.store.done_keys(id).await?;
        let mut jobs: Vec<(String, Job)> = Vec::new();
        for effect in plan(&snapshot.view, &done) {
            let job = match &effect {
                Effect::PromptActivation { request, requester } => {
                    self.activation_prompt(&snapshot, request, requester)
                        .await?
                }
                other => job_for(&snapshot, other),
            };
            if let Some(job) = job {
                jobs.push((effect.key(), job));
            }
        }
        self.timer_jobs(&snapshot, &done, &mut jobs);
        let rows = self.rows(&jobs);
        let now = chrono::Utc::now();
        self.ctx
            .store
            .insert_request(
                &RequestRow {
                    id: *id,
                    requester: snapshot.view.requester,
                    alias: None,
                    ticket: snapshot.view.ticket.clone(),
                    justification: snapshot.view.justification.clone(),
                    state: snapshot.view.state.clone(),
                },
                now,
            )
            .await?;
        let added = self.ctx.store.enqueue(Some(id), &rows, now).await?;
        if added > 0 {
            tracing::debug!(request = %id, added, "reconcile queued effects");
            self.delivery.wake.notify_one();
        }
        Ok(())
    }

    /// The activation prompt, once PIM shows the eligibility delivery
    /// granted (until then the planner will owe it again).
    pub(super) async fn activation_prompt(
        &self,
        snapshot: &Snapshot,
        request: &RequestId,
        requester: &ObjectId,
    ) -> Result<Option<Job>, EngineError> {
        let group = snapshot.package.group;
        let eligible = pim::eligibility_instances(&self.ctx.graph, requester, &group).await?;
        if eligible.is_empty() {
            return Ok(None);
        }
        let rules = pim::activation_rules(&self.ctx.graph, &group).await?;
        let choices = duration_choices(rules.maximum);
        Ok(Some(Job::ToPerson {
            person: *requester,
            message: Message::ActivationPrompt {
                request: *request,
                package: snapshot.package.entry.display_name.clone(),
                group: snapshot
                    .package
                    .role
                    .clone()
                    .unwrap_or_else(|| group.to_string()),
                default: super::time::format_duration(rules.maximum),
                choices: choices
                    .into_iter()
                    .map(super::time::format_duration)
                    .collect(),
                mfa_required: rules.mfa || rules.auth_context.is_some(),
            },
        }))
    }

    /// Reconciles every open request of the configured packages: Graph's
    /// open requests, and those the store last saw open (to see them end).
    pub async fn reconcile_all_open(&self) -> Result<usize, EngineError> {
        let mut ids: Vec<RequestId> =
            em::list_requests(&self.ctx.graph, &self.package_ids(), &OPEN_STATES)
                .await?
                .into_iter()
                .filter_map(|r| r.id.parse().ok())
                .collect();
        for id in self.ctx.store.requests_in(&OPEN_STATES).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for id in &ids {
            if let Err(e) = self.reconcile(id).await {
                tracing::warn!(request = %id, error = %e, "reconcile failed");
            }
        }
        Ok(ids.len())
    }
}

/// Offered activation lengths: common ones below the maximum, and the maximum.
#[must_use]
pub(crate) fn duration_choices(maximum: Duration) -> Vec<Duration> {
    let mut out: Vec<Duration> = [1, 2, 4, 8]
        .into_iter()
        .map(Duration::hours)
        .filter(|d| *d < maximum)
        .collect();
    out.push(maximum);
    out
}

/// Intake's entry points: each ends in reconcile; errors are logged here
/// (the poller retries everything open anyway).
#[async_trait]
impl IntakeSink for Engine {
    async fn reconcile(&self, request: RequestId, cause: Cause) {
        if let Err(e) = Engine::reconcile(self, &request).await {
            tracing::warn!(request = %request, ?cause, error = %e, "reconcile failed");
        }
    }

    async fn membership_changed(&self, group: ObjectId, member: ObjectId, added: bool) {
        self.membership_notified(group, member, added, None).await;
    }

    async fn membership_notified(
        &self,
        group: ObjectId,
        member: ObjectId,
        added: bool,
        notification: Option<String>,
    ) {
        if let Err(e) = self
            .on_membership(&group, &member, added, notification.as_deref())
            .await
        {
            tracing::warn!(%group, error = %e, "membership change not handled");
        }
    }

    async fn reconcile_open(&self) {
        if let Err(e) = self.reconcile_all_open().await {
            tracing::warn!(error = %e, "reconciling open requests failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::duration_choices;

    #[test]
    fn activation_choices_end_at_the_policy_maximum() {
        let hours = |v: Vec<Duration>| v.into_iter().map(|d| d.num_minutes()).collect::<Vec<_>>();
        assert_eq!(hours(duration_choices(Duration::hours(4))), [60, 120, 240]);
        assert_eq!(hours(duration_choices(Duration::hours(2))), [60, 120]);
        assert_eq!(hours(duration_choices(Duration::minutes(30))), [30]);
        assert_eq!(
            hours(duration_choices(Duration::hours(10))),
            [60, 120, 240, 480, 600]
        );
    }
}
