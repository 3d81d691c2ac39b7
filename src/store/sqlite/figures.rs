//! The scrape's figures (SQL for `figures`): a few aggregate reads, each
//! on an indexed or small table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use stagegate_domain::ids::RequestId;

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::figures::{Figures, FiguresStore};

#[async_trait]
impl FiguresStore for SqliteStore {
    async fn figures(&self) -> Result<Figures, StoreError> {
        let requests_by_state =
            sqlx::query_as("SELECT state, COUNT(*) FROM engine_requests GROUP BY state")
                .fetch_all(self.pool())
                .await?;
        let outbox = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<String> = outbox.try_get("oldest")?;
        let outbox_oldest = oldest
            .map(|at| {
                DateTime::parse_from_rfc3339(&at)
                    .map(|at| at.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt(format!("outbox created_at `{at}`: {e}")))
            })
            .transpose()?;
        let subscriptions = sqlx::query_as("SELECT group_id, expires_at FROM intake_subscriptions")
            .fetch_all(self.pool())
            .await?;
        Ok(Figures {
            requests_by_state,
            outbox_depth: outbox.try_get("n")?,
            outbox_oldest,
            subscriptions,
        })
    }

    async fn first_card_of(
        &self,
        request: &RequestId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query(
            "SELECT r.created_at AS at, (SELECT COUNT(*) FROM cards c WHERE c.request_id = r.id) AS n
             FROM engine_requests r WHERE r.id = ?",
        )
        .bind(request.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let cards: i64 = row.try_get("n")?;
        Ok((cards == 1).then(|| row.try_get("at")).transpose()?)
    }
}
