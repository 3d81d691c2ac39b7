//! SQL for the replay ledger (see [`crate::store::replay`]).

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::replay::{ReplayScope, ReplayStore};

#[async_trait]
impl ReplayStore for SqliteStore {
    async fn claim_first_sight(
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

    async fn purge_replays(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM replay_guard WHERE expires_at < ?")
            .bind(now)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    async fn replay_records(&self, scope: ReplayScope) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM replay_guard WHERE scope = ?")
            .bind(scope.as_str())
            .fetch_one(self.pool())
            .await?;
        Ok(count)
    }
}
