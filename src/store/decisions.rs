//! SQL for decisions taken in chat and activations made through the bot.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::engine::{ActivationRow, DecisionRow, InterruptedActivation};
use super::{Store, StoreError};
use crate::chat::identity::ChatIdentity;

const DECISION_COLUMNS: &str =
    "id, request_id, stage, stage_id, approver, identity, review, justification, state";

fn decision(r: &sqlx::sqlite::SqliteRow) -> Result<DecisionRow, StoreError> {
    Ok(DecisionRow {
        id: r.get("id"),
        request_id: r.get("request_id"),
        stage: r.get("stage"),
        stage_id: r.get("stage_id"),
        approver: r.get("approver"),
        identity: serde_json::from_str(&r.get::<String, _>("identity"))
            .map_err(|e| StoreError::Conflict(format!("bad identity: {e}")))?,
        review: r.get("review"),
        justification: r.get("justification"),
        state: r.get("state"),
    })
}

/// A decision about to be recorded.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub request_id: &'a str,
    pub stage: u8,
    pub stage_id: &'a str,
    pub approver: &'a str,
    pub identity: &'a ChatIdentity,
    pub review: &'a str,
    pub justification: &'a str,
}

impl Store {
    /// Records a decision durably, before it is relayed. `Conflict` when
    /// the stage already has a live decision (a double click, or another
    /// approver first).
    pub async fn record_decision(
        &self,
        d: &NewDecision<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO decisions (request_id, stage, stage_id, approver, identity, review, justification,
               state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'recorded', ?, ?) RETURNING id",
        )
        .bind(d.request_id)
        .bind(i64::from(d.stage))
        .bind(d.stage_id)
        .bind(d.approver)
        .bind(serde_json::to_string(d.identity).unwrap_or_default())
        .bind(d.review)
        .bind(d.justification)
        .bind(now)
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(row.get("id"))
    }

    pub async fn set_decision_state(
        &self,
        id: i64,
        state: &str,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE decisions SET state = ?, detail = ?, updated_at = ? WHERE id = ?")
            .bind(state)
            .bind(detail)
            .bind(now)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The live (recorded, relaying or relayed) decision of a stage.
    pub async fn live_decision(
        &self,
        request_id: &str,
        stage: u8,
    ) -> Result<Option<DecisionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE request_id = ? AND stage = ?
             AND state IN ('recorded', 'relaying', 'relayed')"
        ))
        .bind(request_id)
        .bind(i64::from(stage))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decision).transpose()
    }

    /// Decisions not yet known to have reached Graph (crash recovery).
    pub async fn unrelayed_decisions(&self) -> Result<Vec<DecisionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE state IN ('recorded', 'relaying') ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decision).collect()
    }

    pub async fn count_decisions(&self, request_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM decisions WHERE request_id = ?")
            .bind(request_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.get("n"))
    }

    // ---- activations

    #[allow(clippy::too_many_arguments)]
    pub async fn upsert_activation(
        &self,
        request_id: &str,
        requester: &str,
        group_id: &str,
        duration: &str,
        state: &str,
        schedule_request_id: Option<&str>,
        active_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO activations (request_id, requester, group_id, duration, state, schedule_request_id,
               active_until, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (request_id) DO UPDATE SET
               duration = CASE WHEN excluded.duration = '' THEN duration ELSE excluded.duration END,
               state = excluded.state,
               schedule_request_id = COALESCE(excluded.schedule_request_id, schedule_request_id),
               active_until = excluded.active_until, updated_at = excluded.updated_at",
        )
        .bind(request_id)
        .bind(requester)
        .bind(group_id)
        .bind(duration)
        .bind(state)
        .bind(schedule_request_id)
        .bind(active_until)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Activations recorded as `requesting` (about to call PIM) before
    /// `before`: a process that died before PIM's answer left them so.
    pub async fn activations_requesting_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<InterruptedActivation>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, requester, group_id, duration, updated_at FROM activations
             WHERE state = 'requesting' AND updated_at < ?",
        )
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| InterruptedActivation {
                request_id: r.get("request_id"),
                requester: r.get("requester"),
                group_id: r.get("group_id"),
                duration: r.get("duration"),
                since: r.get("updated_at"),
            })
            .collect())
    }

    pub async fn activation(&self, request_id: &str) -> Result<Option<ActivationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT request_id, state, duration, active_until FROM activations WHERE request_id = ?",
        )
        .bind(request_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| ActivationRow {
            request_id: r.get("request_id"),
            state: r.get("state"),
            duration: r.get("duration"),
            active_until: r.get("active_until"),
        }))
    }
}

impl Store {
    /// The latest activation through the bot of `requester` in `group`.
    pub async fn activation_of(
        &self,
        requester: &str,
        group: &str,
    ) -> Result<Option<ActivationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT request_id, state, duration, active_until FROM activations
             WHERE requester = ? COLLATE NOCASE AND group_id = ? COLLATE NOCASE
             ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(requester)
        .bind(group)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| ActivationRow {
            request_id: r.get("request_id"),
            state: r.get("state"),
            duration: r.get("duration"),
            active_until: r.get("active_until"),
        }))
    }
}
