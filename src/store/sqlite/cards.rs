//! SQL for approval cards: at most one per (request, stage, approver,
//! platform), enforced by a unique constraint.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use stagegate_domain::ids::{ObjectId, RequestId};

use super::{SqliteStore, parse_id};
use crate::chat::identity::ChatIdentity;
use crate::store::cards::{CardRow, CardStore};
use crate::store::{CardState, StoreError};

#[async_trait]
impl CardStore for SqliteStore {
    #[allow(clippy::too_many_arguments)]
    async fn insert_card(
        &self,
        request_id: &RequestId,
        stage: u8,
        approver: &ObjectId,
        recipient: &ChatIdentity,
        message_ref: &str,
        card: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cards (request_id, stage, approver, platform, recipient, message_ref, card, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(request_id.to_string())
        .bind(i64::from(stage))
        .bind(approver.to_string())
        .bind(&recipient.platform)
        .bind(serde_json::to_string(recipient).unwrap_or_default())
        .bind(message_ref)
        .bind(card)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(())
    }

    async fn cards_of(
        &self,
        request_id: &RequestId,
        stage: u8,
    ) -> Result<Vec<CardRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT approver, platform, recipient, message_ref, card, state FROM cards
             WHERE request_id = ? AND stage = ? ORDER BY approver, platform",
        )
        .bind(request_id.to_string())
        .bind(i64::from(stage))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(CardRow {
                    approver: parse_id(&r, "approver")?,
                    platform: r.get("platform"),
                    recipient: serde_json::from_str(&r.get::<String, _>("recipient"))
                        .map_err(|e| StoreError::Conflict(format!("bad identity: {e}")))?,
                    message_ref: r.get("message_ref"),
                    card: r.get("card"),
                    state: r.try_get("state")?,
                })
            })
            .collect()
    }

    async fn retire_card(
        &self,
        request_id: &RequestId,
        stage: u8,
        approver: &ObjectId,
        platform: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cards SET state = ?, updated_at = ?
             WHERE request_id = ? AND stage = ? AND approver = ? AND platform = ?",
        )
        .bind(CardState::Retired)
        .bind(now)
        .bind(request_id.to_string())
        .bind(i64::from(stage))
        .bind(approver.to_string())
        .bind(platform)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
