//! Queueing: every job the workflows hand to delivery, keyed so that a
//! job queued twice is delivered once, and the worker woken.

use chrono::Utc;

use crate::chat::identity::ChatIdentity;
use crate::chat::port::Message;
use crate::engine::jobs::Job;
use crate::engine::{Engine, EngineError};
use crate::store::outbox::NewJob;
use stagegate_domain::ids::RequestId;

impl Engine {
    /// Queues a one-off message to a person's chat identity.
    pub(in crate::engine) async fn tell(&self, who: &ChatIdentity, message: Message) {
        let key = format!("reply:{}", uuid::Uuid::new_v4());
        let job = Job::ToIdentity {
            identity: who.clone(),
            message,
        };
        let Some(row) = new_job(&key, &job) else {
            return;
        };
        match self.ctx.store.enqueue(None, &[row], Utc::now()).await {
            Ok(_) => self.delivery.wake.notify_one(),
            Err(e) => tracing::error!(error = %e, "cannot queue a reply"),
        }
    }

    /// The outbox rows for `jobs`: security alerts fanned out to every
    /// security channel, each job serialized.
    pub(in crate::engine) fn rows(&self, jobs: &[(String, Job)]) -> Vec<NewJob> {
        crate::engine::jobs::fan_out(&self.ctx.settings.all_security_channels(), jobs)
            .iter()
            .filter_map(|(key, job)| new_job(key, job))
            .collect()
    }

    /// Queues keyed jobs for a request and wakes the worker.
    pub(in crate::engine) async fn queue(
        &self,
        request: &RequestId,
        jobs: &[(String, Job)],
    ) -> Result<(), EngineError> {
        self.queue_under(Some(request), jobs).await
    }

    /// Queues keyed jobs that belong to no request (alerts about group
    /// membership or account links) and wakes the worker.
    pub(in crate::engine) async fn queue_unattached(
        &self,
        jobs: &[(String, Job)],
    ) -> Result<(), EngineError> {
        self.queue_under(None, jobs).await
    }

    async fn queue_under(
        &self,
        request: Option<&RequestId>,
        jobs: &[(String, Job)],
    ) -> Result<(), EngineError> {
        let rows = self.rows(jobs);
        if self.ctx.store.enqueue(request, &rows, Utc::now()).await? > 0 {
            self.delivery.wake.notify_one();
        }
        Ok(())
    }
}

/// The outbox row for `job` under `key`.
pub(super) fn new_job(key: &str, job: &Job) -> Option<NewJob> {
    Some(NewJob {
        key: key.to_owned(),
        lane: job.lane(),
        job: serde_json::to_string(job).ok()?,
    })
}
