//! SQL for decisions taken in chat and activations made through the bot.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use stagegate_domain::ids::{ObjectId, RequestId};

use super::{SqliteStore, parse_id};
use crate::store::activations::{ActivationRow, ActivationStore, InterruptedActivation};
use crate::store::decisions::{DecisionRow, DecisionStore, NewDecision};
use crate::store::{ActivationState, DecisionState, StoreError};

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
        review: r
            .get::<String, _>("review")
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("decision {}: {e}", r.get::<i64, _>("id"))))?,
        justification: r.get("justification"),
        state: r.try_get("state")?,
    })
}

fn activation_row(r: &sqlx::sqlite::SqliteRow) -> Result<ActivationRow, StoreError> {
    Ok(ActivationRow {
        request_id: r.get("request_id"),
        state: r.try_get("state")?,
        duration: r.get("duration"),
        active_until: r.get("active_until"),
    })
}

#[async_trait]
impl DecisionStore for SqliteStore {
    async fn record_decision(
        &self,
        d: &NewDecision<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO decisions (request_id, stage, stage_id, approver, identity, review, justification,
               state, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(d.request_id.to_string())
        .bind(i64::from(d.stage))
        .bind(d.stage_id.to_string())
        .bind(d.approver.to_string())
        .bind(serde_json::to_string(d.identity).unwrap_or_default())
        .bind(d.review.as_str())
        .bind(d.justification)
        .bind(DecisionState::Recorded)
        .bind(now)
        .bind(now)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from_write)?;
        Ok(row.get("id"))
    }

    async fn set_decision_state(
        &self,
        id: i64,
        state: DecisionState,
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

    async fn live_decision(
        &self,
        request_id: &RequestId,
        stage: u8,
    ) -> Result<Option<DecisionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE request_id = ? AND stage = ?
             AND state IN (?, ?, ?)"
        ))
        .bind(request_id.to_string())
        .bind(i64::from(stage))
        .bind(DecisionState::LIVE[0])
        .bind(DecisionState::LIVE[1])
        .bind(DecisionState::LIVE[2])
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(decision).transpose()
    }

    async fn unrelayed_decisions(&self) -> Result<Vec<DecisionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DECISION_COLUMNS} FROM decisions WHERE state IN (?, ?) ORDER BY id"
        ))
        .bind(DecisionState::Recorded)
        .bind(DecisionState::Relaying)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decision).collect()
    }

    async fn count_decisions(&self, request_id: &RequestId) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM decisions WHERE request_id = ?")
            .bind(request_id.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(row.get("n"))
    }
}

#[async_trait]
impl ActivationStore for SqliteStore {
    // ---- activations
    #[allow(clippy::too_many_arguments)]
    async fn upsert_activation(
        &self,
        request_id: &RequestId,
        requester: &ObjectId,
        group_id: &ObjectId,
        duration: &str,
        state: ActivationState,
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
        .bind(request_id.to_string())
        .bind(requester.to_string())
        .bind(group_id.to_string())
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

    async fn activations_requesting_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<InterruptedActivation>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, requester, group_id, duration, updated_at FROM activations
             WHERE state = ? AND updated_at < ?",
        )
        .bind(ActivationState::Requesting)
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InterruptedActivation {
                    request_id: parse_id(r, "request_id")?,
                    requester: parse_id(r, "requester")?,
                    group_id: parse_id(r, "group_id")?,
                    duration: r.get("duration"),
                    since: r.get("updated_at"),
                })
            })
            .collect()
    }

    async fn activation(
        &self,
        request_id: &RequestId,
    ) -> Result<Option<ActivationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT request_id, state, duration, active_until FROM activations WHERE request_id = ?",
        )
        .bind(request_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(activation_row).transpose()
    }

    async fn activation_of(
        &self,
        requester: &ObjectId,
        group: &ObjectId,
    ) -> Result<Option<ActivationRow>, StoreError> {
        let row = sqlx::query(
            "SELECT request_id, state, duration, active_until FROM activations
             WHERE requester = ? COLLATE NOCASE AND group_id = ? COLLATE NOCASE
             ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(requester.to_string())
        .bind(group.to_string())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(activation_row).transpose()
    }
}
