//! The outbox: jobs queued under unique keys, claimed with a lease,
//! delivered in lanes (the chats a job waits on), and finished, retried or
//! deferred.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::ids::RequestId;

use super::{DeliveryStatus, StoreError};

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub request_id: String,
    pub job: String,
    pub attempts: i64,
    pub message_ref: Option<String>,
    /// The chats the job waits on (see [`NewJob::lane`]).
    pub lane: String,
    /// Posts sent without a reference learned yet (JSON, see
    /// `engine::outbox::attempts`).
    pub post_attempts: Option<String>,
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Unique: a key already queued is not queued again.
    pub key: String,
    /// The chats the job waits on (one person's, one channel's): the worker
    /// delivers only a few jobs of a lane at once.
    pub lane: String,
    /// The job, as JSON.
    pub job: String,
}

/// Jobs of each lane being delivered now.
pub type LaneLoad = BTreeMap<String, usize>;

/// The outbox the engine's worker drains.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues jobs under their keys in one transaction; a key already
    /// queued is skipped. Returns how many were new. `None`: jobs that
    /// belong to no request (alerts).
    async fn enqueue(
        &self,
        request_id: Option<&RequestId>,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Queues `job` unless a job whose key starts with `family` is still
    /// pending (not yet claimed): that job then carries `job`'s content
    /// instead, keeping its place in line.
    async fn enqueue_or_replace(
        &self,
        request_id: Option<&RequestId>,
        family: &str,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` due jobs (pending and due, or sending with an
    /// expired lease), oldest first, leasing them until `lease_until`.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// As [`Self::claim_due`], but no lane ends up with more than
    /// `per_lane` jobs in delivery, counting the `busy` ones already are.
    async fn claim_due_in_lanes(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_lane: i64,
        busy: &LaneLoad,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// Records progress (message refs) without finishing the job, so a
    /// retry after a crash does not post twice.
    /// Records the posts a job has sent whose reference it has not learned
    /// yet; written before each post.
    async fn set_outbox_post_attempts(&self, id: i64, attempts: &str) -> Result<(), StoreError>;

    async fn set_outbox_refs(&self, id: i64, refs: &str) -> Result<(), StoreError>;

    async fn finish_outbox(
        &self,
        id: i64,
        status: DeliveryStatus,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Reschedules after a failed attempt (the attempt counts).
    async fn retry_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Reschedules without counting the attempt (the job waited, it did
    /// not fail).
    async fn defer_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Unfinished jobs: `(count, earliest next attempt in unix ms)`.
    async fn outbox_backlog(&self) -> Result<(i64, Option<i64>), StoreError>;

    /// Unfinished jobs of one request.
    async fn outbox_unfinished_for(&self, request_id: &RequestId) -> Result<i64, StoreError>;

    /// Extends the lease of a job still being delivered, so no other
    /// claim takes it while it waits for a rate-limit slot.
    async fn renew_outbox_lease(
        &self,
        id: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// When the next unfinished job outside `full_lanes` falls due (epoch
    /// ms), without counting.
    async fn outbox_next_due(&self, full_lanes: &[&str]) -> Result<Option<i64>, StoreError>;

    /// `(status, message_ref)` of the job with `key`.
    async fn outbox_by_key(
        &self,
        key: &str,
    ) -> Result<Option<(DeliveryStatus, Option<String>)>, StoreError>;

    /// Whether any job whose key starts with `prefix` is not finished.
    async fn outbox_unfinished_with_prefix(&self, prefix: &str) -> Result<bool, StoreError>;
}
