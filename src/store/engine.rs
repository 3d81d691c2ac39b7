//! SQL for the engine: requests, people, the outbox, cards, decisions and
//! activations. Times the outbox schedules on are real (unix ms); times
//! shown to people come from the engine's clock.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::Row;
use stagegate_domain::approval::{RequestState, Review};
use stagegate_domain::ids::{ObjectId, RequestId};

pub use super::outbox::OutboxRow;
use super::{ActivationState, CardState, DecisionState, SqliteStore, StoreError, parse_id};
use crate::chat::identity::ChatIdentity;

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: RequestId,
    pub requester: ObjectId,
    pub alias: Option<String>,
    pub ticket: Option<String>,
    pub justification: Option<String>,
    /// As Graph last showed it.
    pub state: RequestState,
}

#[derive(Debug, Clone)]
pub struct CardRow {
    pub approver: ObjectId,
    pub platform: String,
    pub recipient: ChatIdentity,
    pub message_ref: String,
    pub card: String,
    pub state: CardState,
}

#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub id: i64,
    pub request_id: String,
    pub stage: i64,
    pub stage_id: String,
    pub approver: String,
    pub identity: ChatIdentity,
    pub review: Review,
    pub justification: String,
    pub state: DecisionState,
}

#[derive(Debug, Clone)]
pub struct InterruptedActivation {
    pub request_id: RequestId,
    pub requester: ObjectId,
    pub group_id: ObjectId,
    pub duration: String,
    /// When the activation was about to call PIM.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ActivationRow {
    pub request_id: String,
    pub state: ActivationState,
    pub duration: String,
    pub active_until: Option<DateTime<Utc>>,
}

impl SqliteStore {
    // ---- requests

    /// Records a request submitted through the bot (alias and ticket as typed).
    pub async fn insert_request(
        &self,
        row: &RequestRow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
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

    pub async fn request_row(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError> {
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

    /// The most recent delivered request of `requester` for any of `aliases`
    /// (the approval that explains their membership of a privileged group).
    pub async fn delivered_request_of(
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

    /// Requests the engine knows that were last seen in one of `states`.
    pub async fn requests_in(&self, states: &[RequestState]) -> Result<Vec<RequestId>, StoreError> {
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

    pub async fn upsert_person(
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

    /// The Entra user behind a chat identity, if known.
    pub async fn person(&self, who: &ChatIdentity) -> Result<Option<String>, StoreError> {
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

    /// The name a chat identity was last seen with, if known.
    pub async fn person_name(&self, who: &ChatIdentity) -> Result<Option<String>, StoreError> {
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

    /// Every chat identity through which a user can be reached.
    pub async fn identities_of(
        &self,
        object_id: &ObjectId,
    ) -> Result<Vec<ChatIdentity>, StoreError> {
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

    /// Chat identities with a completed link acting as `object_id`.
    pub async fn linked_identities_of(
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

    /// Keys of everything done (queued) for a request, and of its live
    /// chat decisions: the planner's `done`.
    pub async fn done_keys(&self, request_id: &RequestId) -> Result<BTreeSet<String>, StoreError> {
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
