//! SQL for the engine: requests, people, the outbox, cards, decisions and
//! activations. Times the outbox schedules on are real (unix ms); times
//! shown to people come from the engine's clock.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::links::ChatIdentity;
use super::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: String,
    pub requester: String,
    pub alias: Option<String>,
    pub ticket: Option<String>,
    pub justification: Option<String>,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub request_id: String,
    pub job: String,
    pub attempts: i64,
    pub message_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CardRow {
    pub approver: String,
    pub platform: String,
    pub recipient: ChatIdentity,
    pub message_ref: String,
    pub card: String,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub id: i64,
    pub request_id: String,
    pub stage: i64,
    pub stage_id: String,
    pub approver: String,
    pub identity: ChatIdentity,
    pub review: String,
    pub justification: String,
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct ActivationRow {
    pub request_id: String,
    pub state: String,
    pub duration: String,
    pub active_until: Option<DateTime<Utc>>,
}

impl Store {
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
        .bind(&row.id)
        .bind(&row.requester)
        .bind(&row.alias)
        .bind(&row.ticket)
        .bind(&row.justification)
        .bind(&row.state)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn request_row(&self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, requester, alias, ticket, justification, state FROM engine_requests WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| RequestRow {
            id: r.get("id"),
            requester: r.get("requester"),
            alias: r.get("alias"),
            ticket: r.get("ticket"),
            justification: r.get("justification"),
            state: r.get("state"),
        }))
    }

    /// The most recent delivered request of `requester` for any of `aliases`
    /// (the approval that explains their membership of a privileged group).
    pub async fn delivered_request_of(
        &self,
        requester: &str,
        aliases: &[String],
    ) -> Result<Option<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, alias FROM engine_requests
             WHERE requester = ? AND state = 'delivered' ORDER BY updated_at DESC",
        )
        .bind(requester)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .find(|r| {
                r.get::<Option<String>, _>("alias")
                    .is_some_and(|a| aliases.contains(&a))
            })
            .map(|r| r.get("id")))
    }

    /// Requests the engine knows that were last seen in one of `states`.
    pub async fn requests_in(&self, states: &[&str]) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT id, state FROM engine_requests ORDER BY created_at")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .filter(|r| states.contains(&r.get::<String, _>("state").as_str()))
            .map(|r| r.get("id"))
            .collect())
    }

    // ---- people

    pub async fn upsert_person(
        &self,
        who: &ChatIdentity,
        object_id: &str,
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
        .bind(object_id)
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

    /// Every chat identity through which a user can be reached.
    pub async fn identities_of(&self, object_id: &str) -> Result<Vec<ChatIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT platform, workspace, chat_user FROM people WHERE object_id = ? COLLATE NOCASE
             ORDER BY platform, workspace, chat_user",
        )
        .bind(object_id)
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
        object_id: &str,
    ) -> Result<Vec<ChatIdentity>, StoreError> {
        let rows = sqlx::query(
            "SELECT platform, workspace, chat_user FROM links WHERE object_id = ? COLLATE NOCASE
             ORDER BY refreshed_at DESC",
        )
        .bind(object_id)
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
    pub async fn done_keys(&self, request_id: &str) -> Result<BTreeSet<String>, StoreError> {
        let mut keys: BTreeSet<String> = sqlx::query("SELECT key FROM outbox WHERE request_id = ?")
            .bind(request_id)
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|r| r.get("key"))
            .collect();
        let decisions = sqlx::query(
            "SELECT stage, approver FROM decisions WHERE request_id = ?
             AND state IN ('recorded', 'relaying', 'relayed')",
        )
        .bind(request_id)
        .fetch_all(self.pool())
        .await?;
        for d in decisions {
            let stage: i64 = d.get("stage");
            let approver: String = d.get("approver");
            keys.insert(format!("decision:{request_id}:{stage}:{approver}"));
        }
        Ok(keys)
    }

    /// Queues jobs under their keys in one transaction; a key already
    /// queued is skipped. Returns how many were new.
    pub async fn enqueue(
        &self,
        request_id: &str,
        jobs: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut added = 0;
        for (key, job) in jobs {
            let result = sqlx::query(
                "INSERT INTO outbox (key, request_id, job, next_attempt_at, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(request_id)
            .bind(job)
            .bind(now.timestamp_millis())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            added += result.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Claims up to `limit` due jobs (pending and due, or sending with an
    /// expired lease), oldest first, leasing them until `lease_until`.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let now_ms = now.timestamp_millis();
        let rows = sqlx::query(
            "UPDATE outbox SET status = 'sending', lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id IN (
               SELECT id FROM outbox
               WHERE (status = 'pending' AND next_attempt_at <= ?)
                  OR (status = 'sending' AND lease_until <= ?)
               ORDER BY id LIMIT ?)
             RETURNING id, key, request_id, job, attempts, message_ref",
        )
        .bind(lease_until.timestamp_millis())
        .bind(now)
        .bind(now_ms)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<OutboxRow> = rows
            .into_iter()
            .map(|r| OutboxRow {
                id: r.get("id"),
                key: r.get("key"),
                request_id: r.get("request_id"),
                job: r.get("job"),
                attempts: r.get("attempts"),
                message_ref: r.get("message_ref"),
            })
            .collect();
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Records progress (message refs) without finishing the job, so a
    /// retry after a crash does not post twice.
    pub async fn set_outbox_refs(&self, id: i64, refs: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET message_ref = ? WHERE id = ?")
            .bind(refs)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn finish_outbox(
        &self,
        id: i64,
        status: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET status = ?, last_error = ?, lease_until = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(status)
        .bind(note)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Reschedules after a failed attempt (the attempt counts).
    pub async fn retry_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.reschedule_outbox(id, at, error, now, true).await
    }

    /// Reschedules without counting the attempt (the job waited, it did
    /// not fail).
    pub async fn defer_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.reschedule_outbox(id, at, why, now, false).await
    }

    async fn reschedule_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        note: &str,
        now: DateTime<Utc>,
        counts_as_attempt: bool,
    ) -> Result<(), StoreError> {
        // Claiming incremented `attempts`; a wait gives that back.
        let refund = if counts_as_attempt { 0 } else { 1 };
        sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, lease_until = NULL,
             attempts = MAX(attempts - ?, 0), updated_at = ? WHERE id = ?",
        )
        .bind(at.timestamp_millis())
        .bind(note)
        .bind(refund)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Unfinished jobs: `(count, earliest next attempt in unix ms)`.
    pub async fn outbox_backlog(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
             FROM outbox WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((row.get("n"), row.get("due")))
    }

    /// Unfinished jobs of one request.
    pub async fn outbox_unfinished_for(&self, request_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE request_id = ? AND status IN ('pending', 'sending')",
        )
        .bind(request_id)
        .fetch_one(self.pool())
        .await?;
        Ok(row.get("n"))
    }

    /// Extends the lease of a job still being delivered, so no other
    /// claim takes it while it waits for a rate-limit slot.
    pub async fn renew_outbox_lease(
        &self,
        id: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET lease_until = ? WHERE id = ? AND status = 'sending'")
            .bind(lease_until.timestamp_millis())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// When the next unfinished job falls due (epoch ms), without counting.
    pub async fn outbox_next_due(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
             FROM outbox WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(row.get("due"))
    }

    /// `(status, message_ref)` of the job with `key`.
    pub async fn outbox_by_key(
        &self,
        key: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        let row = sqlx::query("SELECT status, message_ref FROM outbox WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| (r.get("status"), r.get("message_ref"))))
    }

    /// Whether any job whose key starts with `prefix` is not finished.
    pub async fn outbox_unfinished_with_prefix(&self, prefix: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE substr(key, 1, ?) = ? AND status IN ('pending', 'sending')",
        )
        .bind(prefix.len() as i64)
        .bind(prefix)
        .fetch_one(self.pool())
        .await?;
        Ok(row.get::<i64, _>("n") > 0)
    }
}
