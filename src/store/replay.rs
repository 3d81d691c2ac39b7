//! The replay ledger: which inbound requests were already acted on.
//!
//! Slack's signature stays valid for 300 s and a Teams activity can be
//! resent with its token, so a captured request could be replayed; an
//! in-memory set forgot everything on restart and is per process. Here the
//! check and the record are one SQL statement (`INSERT … ON CONFLICT`), so
//! two replicas receiving the same request race on the primary key and
//! exactly one of them sees it first. Expired rows are overwritten by the
//! same statement and purged at most once a minute.
//!
//! Cost per check does not grow with the table: the claim touches one row
//! through the primary key, and the purge deletes through the expiry index
//! only rows that expired (each row is purged once). The table holds at
//! most [`MAX_RECORDS`] unexpired rows per scope: at the cap a check is
//! refused ([`StoreError::Full`], answered 503) instead of a record inside
//! its window being dropped, which would let a replay through.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

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
/// Unexpired records per scope, at most: a Slack record lives up to ten
/// minutes (its timestamp may be 300 s old or ahead), so this is about
/// 1,600 requests per second sustained; some 100 MB of SQLite.
pub const MAX_RECORDS: i64 = 1_000_000;

/// One scope's view of the durable ledger, with its purge schedule.
pub struct ReplayLedger {
    store: Arc<dyn ReplayStore>,
    scope: ReplayScope,
    /// Unix time after which the next call purges expired rows.
    next_purge: AtomicI64,
    /// Rows in the scope as last counted (at each purge, every replica's
    /// included), plus the ones this process added since.
    records: AtomicI64,
    cap: i64,
    /// Rows written or deleted so far, for tests to check that the cost of
    /// a check does not grow with the table.
    touched: AtomicU64,
}

impl ReplayLedger {
    #[must_use]
    pub fn new(store: Arc<dyn ReplayStore>, scope: ReplayScope) -> Self {
        Self::with_cap(store, scope, MAX_RECORDS)
    }

    /// A ledger refusing checks beyond `cap` unexpired records.
    #[must_use]
    pub fn with_cap(store: Arc<dyn ReplayStore>, scope: ReplayScope, cap: i64) -> Self {
        Self {
            store,
            scope,
            next_purge: AtomicI64::new(0),
            records: AtomicI64::new(0),
            cap,
            touched: AtomicU64::new(0),
        }
    }

    /// Rows written or deleted by this ledger so far.
    #[must_use]
    pub fn touched(&self) -> u64 {
        self.touched.load(Ordering::Relaxed)
    }

    /// True the first time `digest` is seen while unexpired; records it
    /// until `expires_at` (Unix seconds). False for a replay.
    pub async fn first_sight(
        &self,
        digest: &[u8; 32],
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.purge_when_due(now).await;
        if self.records.load(Ordering::Relaxed) >= self.cap {
            return Err(StoreError::Full("the replay ledger"));
        }
        let first = self
            .store
            .claim_first_sight(self.scope, digest, expires_at, now)
            .await?;
        self.touched.fetch_add(1, Ordering::Relaxed);
        if first {
            self.records.fetch_add(1, Ordering::Relaxed);
        }
        Ok(first)
    }

    /// At most once a minute: deletes the expired rows and counts the rest.
    async fn purge_when_due(&self, now: i64) {
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
            match self.store.purge_replays(now).await {
                Ok(purged) => {
                    self.touched.fetch_add(purged, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "could not purge expired replay records"),
            }
            // One count a minute (through the scope's index): amortised
            // over the minute's checks, and right across replicas.
            match self.store.replay_records(self.scope).await {
                Ok(n) => self.records.store(n, Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "could not count replay records"),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    async fn ledger(cap: i64) -> (tempfile::TempDir, Arc<SqliteStore>, ReplayLedger) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("t.db"), 1)
                .await
                .unwrap(),
        );
        let ledger = ReplayLedger::with_cap(store.clone(), ReplayScope::Slack, cap);
        (dir, store, ledger)
    }

    fn digest(i: u32) -> [u8; 32] {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&i.to_be_bytes());
        d
    }

    /// Rows touched by `checks` new requests with `held` unexpired records
    /// already in the table.
    async fn cost_of_checks(held: u32, checks: u32) -> u64 {
        let (_dir, store, ledger) = ledger(MAX_RECORDS).await;
        let now = 1_000_000;
        for i in 0..held {
            store
                .claim_first_sight(ReplayScope::Slack, &digest(i), now + 300, now)
                .await
                .unwrap();
        }
        // A few expired ones, which the purge deletes once.
        for i in 0..10 {
            store
                .claim_first_sight(
                    ReplayScope::Slack,
                    &digest(u32::MAX - i),
                    now - 1,
                    now - 400,
                )
                .await
                .unwrap();
        }
        let before = ledger.touched();
        for i in 0..checks {
            assert!(
                ledger
                    .first_sight(&digest(held + i), now + 300, now)
                    .await
                    .unwrap()
            );
        }
        ledger.touched() - before
    }

    #[tokio::test]
    async fn the_cost_of_a_check_does_not_depend_on_how_many_records_are_held() {
        let small = cost_of_checks(0, 200).await;
        let large = cost_of_checks(20_000, 200).await;
        assert_eq!(small, large);
        assert_eq!(large, 200 + 10, "one row per check, each expired row once");
    }

    #[tokio::test]
    async fn at_its_cap_the_ledger_refuses_rather_than_forgets() {
        let (_dir, _store, ledger) = ledger(3).await;
        let now = 1_000_000;
        for i in 0..3 {
            assert!(
                ledger
                    .first_sight(&digest(i), now + 300, now)
                    .await
                    .unwrap()
            );
        }
        let refused = ledger.first_sight(&digest(9), now + 300, now).await;
        assert!(matches!(refused, Err(StoreError::Full(_))), "{refused:?}");
        // Once the records expire (the next purge), room again; a replay
        // of a live record was never forgotten meanwhile.
        let later = now + 301 + PURGE_EVERY_SECONDS;
        assert!(
            ledger
                .first_sight(&digest(9), later + 300, later)
                .await
                .unwrap()
        );
    }
}
