//! The replay ledger: which inbound requests were already acted on.
//!
//! Slack's signature stays valid for 300 s and a Teams activity can be
//! resent with its token, so a captured request could be replayed; an
//! in-memory set forgot everything on restart and is per process. Here the
//! check and the record are one SQL statement (`INSERT … ON CONFLICT`), so
//! two replicas receiving the same request race on the primary key and
//! exactly one of them sees it first. Expired rows are overwritten by the
//! same statement and purged at most once a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;

use super::StoreError;

/// Whose requests a ledger remembers (the `scope` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayScope {
    Slack,
    Teams,
}

impl ReplayScope {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }
}

impl std::fmt::Debug for ReplayLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayLedger")
            .field("scope", &self.scope)
            .field("next_purge", &self.next_purge)
            .finish_non_exhaustive()
    }
}

/// Seconds between two purges of expired rows (by one process).
const PURGE_EVERY_SECONDS: i64 = 60;

/// One scope's view of the durable ledger, with its purge schedule.
pub struct ReplayLedger {
    store: Arc<dyn ReplayStore>,
    scope: ReplayScope,
    /// Unix time after which the next call purges expired rows.
    next_purge: AtomicI64,
}

impl ReplayLedger {
    #[must_use]
    pub fn new(store: Arc<dyn ReplayStore>, scope: ReplayScope) -> Self {
        Self {
            store,
            scope,
            next_purge: AtomicI64::new(0),
        }
    }

    /// True the first time `digest` is seen while unexpired; records it
    /// until `expires_at` (Unix seconds). False for a replay.
    pub async fn first_sight(
        &self,
        digest: &[u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let first = self
            .store
            .claim_first_sight(self.scope, digest, expires_at, now)
            .await?;
        let due = self.next_purge.load(Ordering::Relaxed);
        if now >= due
            && self
                .next_purge
                .compare_exchange(
                    due,
                    now + PURGE_EVERY_SECONDS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            // Only bounds the table's size: a failure costs nothing now.
            if let Err(e) = self.store.purge_replays(now).await {
                tracing::warn!(error = %e, "could not purge expired replay records");
            }
        }
        Ok(first)
    }
}

/// The durable ledger behind [`ReplayLedger`].
#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Records `digest` in `scope` until `expires_at` unless an unexpired
    /// record exists: true when this call recorded it. One statement, so
    /// concurrent callers (replicas included) cannot both get true.
    async fn claim_first_sight(
        &self,
        scope: ReplayScope,
        digest: &[u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Deletes the records that expired before `now`; how many went.
    async fn purge_replays(&self, now: i64) -> Result<u64, StoreError>;

    /// How many records `scope` holds (expired or not); for tests.
    async fn replay_records(&self, scope: ReplayScope) -> Result<i64, StoreError>;
}
