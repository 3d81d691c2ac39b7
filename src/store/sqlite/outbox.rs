//! The outbox: jobs queued under unique keys, claimed with a lease,
//! delivered in lanes (the chats a job waits on), and finished, retried or
//! deferred.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use stagegate_domain::ids::RequestId;

use super::SqliteStore;
use crate::store::outbox::{LaneLoad, NewJob, OutboxRow, OutboxStore};
use crate::store::{DeliveryStatus, StoreError};

/// What `outbox.request_id` holds for a job that belongs to no request.
const UNATTACHED: &str = "-";

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(
        &self,
        request_id: Option<&RequestId>,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let request_id = request_id.map_or_else(|| UNATTACHED.to_owned(), ToString::to_string);
        let mut tx = self.pool().begin().await?;
        let mut added = 0;
        for NewJob { key, lane, job } in jobs {
            let result = sqlx::query(
                "INSERT INTO outbox (key, request_id, job, lane, next_attempt_at, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(&request_id)
            .bind(job)
            .bind(lane)
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

    async fn enqueue_or_replace(
        &self,
        request_id: Option<&RequestId>,
        family: &str,
        job: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let request_id = request_id.map_or_else(|| UNATTACHED.to_owned(), ToString::to_string);
        let mut tx = self.pool().begin().await?;
        let replaced = sqlx::query(
            "UPDATE outbox SET job = ?, updated_at = ?
             WHERE substr(key, 1, ?) = ? AND status = 'pending'",
        )
        .bind(&job.job)
        .bind(now)
        .bind(family.len() as i64)
        .bind(family)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if replaced == 0 {
            sqlx::query(
                "INSERT INTO outbox (key, request_id, job, lane, next_attempt_at, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&job.key)
            .bind(&request_id)
            .bind(&job.job)
            .bind(&job.lane)
            .bind(now.timestamp_millis())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.claim_due_in_lanes(now, lease_until, limit, i64::MAX, &LaneLoad::new())
            .await
    }

    async fn claim_due_in_lanes(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
        per_lane: i64,
        busy: &LaneLoad,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let now_ms = now.timestamp_millis();
        let busy = serde_json::to_string(busy).unwrap_or_else(|_| "{}".into());
        let rows = sqlx::query(
            "UPDATE outbox SET status = 'sending', lease_until = ?, attempts = attempts + 1, updated_at = ?
             WHERE id IN (
               SELECT id FROM (
                 SELECT id, lane, ROW_NUMBER() OVER (PARTITION BY lane ORDER BY id) AS nth
                 FROM outbox
                 WHERE (status = 'pending' AND next_attempt_at <= ?)
                    OR (status = 'sending' AND lease_until <= ?)
               ) AS due
               WHERE due.nth <= ? - COALESCE((SELECT value FROM json_each(?) WHERE key = due.lane), 0)
               ORDER BY id LIMIT ?)
             RETURNING id, key, request_id, job, attempts, message_ref, lane, post_attempts",
        )
        .bind(lease_until.timestamp_millis())
        .bind(now)
        .bind(now_ms)
        .bind(now_ms)
        .bind(per_lane)
        .bind(busy)
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
                lane: r.get("lane"),
                post_attempts: r.get("post_attempts"),
            })
            .collect();
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    async fn set_outbox_post_attempts(&self, id: i64, attempts: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET post_attempts = ? WHERE id = ?")
            .bind(attempts)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn set_outbox_refs(&self, id: i64, refs: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET message_ref = ? WHERE id = ?")
            .bind(refs)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn finish_outbox(
        &self,
        id: i64,
        status: DeliveryStatus,
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

    async fn retry_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.reschedule_outbox(id, at, error, now, true).await
    }

    async fn defer_outbox(
        &self,
        id: i64,
        at: DateTime<Utc>,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.reschedule_outbox(id, at, why, now, false).await
    }

    async fn outbox_backlog(&self) -> Result<(i64, Option<i64>), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
             FROM outbox WHERE status IN ('pending', 'sending')",
        )
        .fetch_one(self.pool())
        .await?;
        Ok((row.get("n"), row.get("due")))
    }

    async fn outbox_unfinished_for(&self, request_id: &RequestId) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM outbox WHERE request_id = ? AND status IN ('pending', 'sending')",
        )
        .bind(request_id.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(row.get("n"))
    }

    async fn renew_outbox_lease(
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

    async fn outbox_next_due(&self, full_lanes: &[&str]) -> Result<Option<i64>, StoreError> {
        let full = serde_json::to_string(full_lanes).unwrap_or_else(|_| "[]".into());
        let row = sqlx::query(
            "SELECT MIN(CASE WHEN status = 'pending' THEN next_attempt_at ELSE lease_until END) AS due
             FROM outbox WHERE status IN ('pending', 'sending')
             AND lane NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(full)
        .fetch_one(self.pool())
        .await?;
        Ok(row.get("due"))
    }

    async fn outbox_by_key(
        &self,
        key: &str,
    ) -> Result<Option<(DeliveryStatus, Option<String>)>, StoreError> {
        let row = sqlx::query("SELECT status, message_ref FROM outbox WHERE key = ?")
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get("status")?, r.get("message_ref"))))
            .transpose()
    }

    async fn outbox_unfinished_with_prefix(&self, prefix: &str) -> Result<bool, StoreError> {
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

impl SqliteStore {
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
}
