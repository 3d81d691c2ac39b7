//! The bot's Slack DM channels, by workspace and user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::slack::SlackDmStore;

#[async_trait]
impl SlackDmStore for SqliteStore {
    async fn upsert_slack_dm(
        &self,
        team: &str,
        user: &str,
        channel: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO slack_dms (team_id, user_id, channel_id, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (team_id, user_id) DO UPDATE SET
               channel_id = excluded.channel_id, updated_at = excluded.updated_at",
        )
        .bind(team)
        .bind(user)
        .bind(channel)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn slack_dm(&self, team: &str, user: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT channel_id FROM slack_dms WHERE team_id = ? AND user_id = ?")
            .bind(team)
            .bind(user)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.get("channel_id")))
    }

    async fn forget_slack_dm(&self, team: &str, user: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM slack_dms WHERE team_id = ? AND user_id = ?")
            .bind(team)
            .bind(user)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
