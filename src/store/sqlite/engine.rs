//! SQL for requests and people, and the planner's `done` keys. Times the outbox schedules on are real (unix ms); times
//! shown to people come from the engine's clock.

use std::collections::BTreeSet;

use async_trait::async_trait;

use chrono::{DateTime, Utc};
use sqlx::Row;
use stagegate_domain::approval::RequestState;
use stagegate_domain::ids::{ObjectId, RequestId};

use super::{SqliteStore, parse_id};
use crate::chat::identity::ChatIdentity;
use crate::store::engine::{RequestRow, RequestStore};
use crate::store::{DecisionState, StoreError};

#[async_trait]
impl RequestStore for SqliteStore {
    // ---- requests
    async fn insert_request(&self, row: &RequestRow, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO engine_requests (id, requester, alias, ticket, justification, state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET
               alias = COALESCE(excluded.alias, alias), ticket = COALESCE(excluded.ticket, ticket),
               justification = COALESCE(excluded.justification, justification),
               state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(row.id.to_string())
        .bind(row.requester.to_string())
        .bind(&row.alias)
        .bind(&row.ticket)
        .bind(&row.justification)
        .bind(row.state.as_str())
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn request_row(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, requester, alias, ticket, justification, state FROM engine_requests WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(RequestRow {
            id: parse_id(&r, "id")?,
            requester: parse_id(&r, "requester")?,
            alias: r.get("alias"),
            ticket: r.get("ticket"),
            justification: r.get("justification"),
            state: r
                .get::<String, _>("state")
                .parse()
                .unwrap_or_else(|e| match e {}),
        }))
    }

    async fn delivered_request_of(
        &self,
        requester: &ObjectId,
        aliases: &[String],
    ) -> Result<Option<RequestId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, alias FROM engine_requests
             WHERE requester = ? AND state = ? ORDER BY updated_at DESC",
        )
        .bind(requester.to_string())
        .bind(RequestState::Delivered.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .find(|r| {
                r.get::<Option<String>, _>("alias")
                    .is_some_and(|a| aliases.contains(&a))
            })
            .map(|r| parse_id(r, "id"))
            .transpose()
    }

    async fn requests_in(&self, states: &[RequestState]) -> Result<Vec<RequestId>, StoreError> {
        let rows = sqlx::query("SELECT id, state FROM engine_requests ORDER BY created_at")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .filter(|r| {
                let state = r.get::<String, _>("state").parse();
                states.contains(&state.unwrap_or_else(|e| match e {}))
            })
            .map(|r| parse_id(r, "id"))
            .collect()
    }

    // ---- people
    async fn upsert_person(
        &self,
        who: &ChatIdentity,
        object_id: &ObjectId,
        display_name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO people (platform, workspace, chat_user, object_id, display_name, updated_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (platform, workspace, chat_user) DO UPDATE SET
               object_id = excluded.object_id, display_name = excluded.display_name,
               updated_at = excluded.updated_at",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .bind(object_id.to_string())
        .bind(display_name)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn person(&self, who: &ChatIdentity) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT object_id FROM people WHERE platform = ? AND workspace = ? AND chat_user = ?",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.get("object_id")))
    }

    async fn person_name(&self, who: &ChatIdentity) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT display_name FROM people WHERE platform = ? AND workspace = ? AND chat_user = ?",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.get("display_name")))
    }

    async fn identities_of(&self, object_id: &ObjectId) -> Result<Vec<ChatIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT platform, workspace, chat_user FROM people WHERE object_id = ? COLLATE NOCASE
             ORDER BY platform, workspace, chat_user",
        )
        .bind(object_id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ChatIdentity {
                platform: r.get("platform"),
                workspace: r.get("workspace"),
                user: r.get("chat_user"),
            })
            .collect())
    }

    async fn linked_identities_of(
        &self,
        object_id: &ObjectId,
    ) -> Result<Vec<ChatIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT platform, workspace, chat_user FROM links WHERE object_id = ? COLLATE NOCASE
             ORDER BY refreshed_at DESC",
        )
        .bind(object_id.to_string())
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| ChatIdentity {
                platform: r.get("platform"),
                workspace: r.get("workspace"),
                user: r.get("chat_user"),
            })
            .collect())
    }

    // ---- outbox
    async fn done_keys(&self, request_id: &RequestId) -> Result<BTreeSet<String>, StoreError> {
        let request_id = request_id.to_string();
        let mut keys: BTreeSet<String> = sqlx::query("SELECT key FROM outbox WHERE request_id = ?")
            .bind(&request_id)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| r.get("key"))
            .collect();
        let decisions = sqlx::query(
            "SELECT stage, approver FROM decisions WHERE request_id = ?
             AND state IN (?, ?, ?)",
        )
        .bind(&request_id)
        .bind(DecisionState::LIVE[0])
        .bind(DecisionState::LIVE[1])
        .bind(DecisionState::LIVE[2])
        .fetch_all(self.pool())
        .await?;
        for d in decisions {
            let stage: i64 = d.get("stage");
            let approver: String = d.get("approver");
            keys.insert(format!("decision:{request_id}:{stage}:{approver}"));
        }
        Ok(keys)
    }
}
