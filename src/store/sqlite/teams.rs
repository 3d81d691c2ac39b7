//! SQL for Teams conversation references.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::teams::{ConversationKind, StoredConversation, TeamsConversationStore};

#[async_trait]
impl TeamsConversationStore for SqliteStore {
    async fn upsert_teams_conversation(
        &self,
        tenant: &str,
        kind: ConversationKind,
        subject: &str,
        at: &StoredConversation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO teams_conversations (tenant_id, kind, subject, service_url, conversation_id, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant_id, kind, subject) DO UPDATE SET
               service_url = excluded.service_url,
               conversation_id = excluded.conversation_id,
               updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(kind.as_str())
        .bind(subject.to_ascii_lowercase())
        .bind(&at.service_url)
        .bind(&at.conversation_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn teams_conversation(
        &self,
        tenant: &str,
        kind: ConversationKind,
        subject: &str,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let row = sqlx::query(
            "SELECT service_url, conversation_id FROM teams_conversations
             WHERE tenant_id = ? AND kind = ? AND subject = ?",
        )
        .bind(tenant)
        .bind(kind.as_str())
        .bind(subject.to_ascii_lowercase())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| StoredConversation {
            service_url: r.get("service_url"),
            conversation_id: r.get("conversation_id"),
        }))
    }

    async fn delete_teams_conversation(
        &self,
        tenant: &str,
        kind: ConversationKind,
        subject: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM teams_conversations WHERE tenant_id = ? AND kind = ? AND subject = ?",
        )
        .bind(tenant)
        .bind(kind.as_str())
        .bind(subject.to_ascii_lowercase())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
