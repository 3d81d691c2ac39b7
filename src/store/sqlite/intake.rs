//! Graph subscriptions kept alive by the intake (SQL for `intake`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use stagegate_domain::ids::ObjectId;

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::intake::{IntakeStore, SubscriptionRow};

const COLUMNS: &str = "group_id, subscription_id, expires_at, client_state_hash, notification_url";

fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<SubscriptionRow, StoreError> {
    Ok(SubscriptionRow {
        group_id: row.try_get("group_id")?,
        subscription_id: row.try_get("subscription_id")?,
        expires_at: row.try_get("expires_at")?,
        client_state_hash: row.try_get("client_state_hash")?,
        notification_url: row.try_get("notification_url")?,
    })
}

#[async_trait]
impl IntakeStore for SqliteStore {
    async fn intake_subscription(
        &self,
        group_id: &ObjectId,
    ) -> Result<Option<SubscriptionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM intake_subscriptions WHERE group_id = ?"
        ))
        .bind(group_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn intake_subscription_by_id(
        &self,
        subscription_id: &str,
    ) -> Result<Option<SubscriptionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM intake_subscriptions WHERE subscription_id = ?"
        ))
        .bind(subscription_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    async fn put_intake_subscription(
        &self,
        row: &SubscriptionRow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        // A subscription id is unique; a stale row of another group holding
        // it (impossible from Graph, cheap to rule out) must not block this.
        sqlx::query("DELETE FROM intake_subscriptions WHERE group_id = ? OR subscription_id = ?")
            .bind(&row.group_id)
            .bind(&row.subscription_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO intake_subscriptions
               (group_id, subscription_id, expires_at, client_state_hash, notification_url, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&row.group_id)
        .bind(&row.subscription_id)
        .bind(row.expires_at)
        .bind(&row.client_state_hash)
        .bind(&row.notification_url)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn renew_intake_subscription(
        &self,
        subscription_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE intake_subscriptions SET expires_at = ?, renewed_at = ? WHERE subscription_id = ?",
        )
        .bind(expires_at)
        .bind(now)
        .bind(subscription_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn delete_intake_subscription(&self, group_id: &ObjectId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM intake_subscriptions WHERE group_id = ?")
            .bind(group_id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
