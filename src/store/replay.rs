//! The replay ledger: which inbound requests were already acted on.
//!
//! Slack's signature stays valid for 300 s and a Teams activity can be
//! resent with its token, so a captured request could be replayed; an
//! in-memory set forgot everything on restart and is per process. Here the
//! check and the record are one SQL statement (`INSERT … ON CONFLICT`), so
//! two replicas receiving the same request race on the primary key and
//! exactly one of them sees it first. Expired rows are overwritten by the
//! same statement and purged at most once a minute.

use std::sync::atomic::{AtomicI64, Ordering};

use super::{SqliteStore, StoreError};

/// Whose requests a ledger remembers (the `scope` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayScope {
    Slack,
    Teams,
}

impl ReplayScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
        }
    }
}

/// Seconds between two purges of expired rows (by one process).
const PURGE_EVERY_SECONDS: i64 = 60;

/// One scope's view of the durable ledger, with its purge schedule.
#[derive(Debug)]
pub struct ReplayLedger {
    store: SqliteStore,
    scope: ReplayScope,
    /// Unix time after which the next call purges expired rows.
    next_purge: AtomicI64,
}

impl ReplayLedger {
    #[must_use]
    pub fn new(store: SqliteStore, scope: ReplayScope) -> Self {
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

impl SqliteStore {
    /// Records `digest` in `scope` until `expires_at` unless an unexpired
    /// record exists: true when this call recorded it. One statement, so
    /// concurrent callers (replicas included) cannot both get true.
    pub async fn claim_first_sight(
        &self,
        scope: ReplayScope,
        digest: &[u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO replay_guard (scope, digest, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (scope, digest) DO UPDATE SET expires_at = excluded.expires_at
             WHERE replay_guard.expires_at < ?4",
        )
        .bind(scope.as_str())
        .bind(hex::encode(digest))
        .bind(expires_at)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the records that expired before `now`; how many went.
    pub async fn purge_replays(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM replay_guard WHERE expires_at < ?")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// How many records `scope` holds (expired or not); for tests.
    pub async fn replay_records(&self, scope: ReplayScope) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM replay_guard WHERE scope = ?")
            .bind(scope.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }
}
