//! Decisions a crash left recorded or relaying: each is checked against
//! Graph's `reviewedBy` before any retry, so a decision Graph already has
//! is never sent twice.

use chrono::Utc;

use crate::engine::{Engine, EngineError};
use crate::store::DecisionState;
use crate::store::decisions::DecisionRow;
use stagegate_domain::ids::StageId;

impl Engine {
    /// Start-up: settles decisions a crash left recorded or relaying.
    pub async fn recover_decisions(&self) -> Result<(), EngineError> {
        let _one_at_a_time = self.decisions.recovery.lock().await;
        for d in self.ctx.store.unrelayed_decisions().await? {
            if let Err(e) = self.recover_one(&d).await {
                tracing::warn!(decision = d.id, error = %e, "decision recovery failed");
            }
        }
        Ok(())
    }

    async fn recover_one(&self, d: &DecisionRow) -> Result<(), EngineError> {
        let (Ok(request), Ok(stage_id)) = (d.request_id.parse(), d.stage_id.parse::<StageId>())
        else {
            return Ok(());
        };
        let Some(token) = self.token_of(&d.identity).await? else {
            self.ctx
                .store
                .set_decision_state(
                    d.id,
                    DecisionState::Failed,
                    Some("approver no longer linked"),
                    Utc::now(),
                )
                .await?;
            return Ok(());
        };
        let stages = self.read_stages_with(&token, &request).await?;
        let stage = stages
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(&d.stage_id));
        let reviewed_by = stage
            .and_then(|s| s.reviewed_by.as_ref())
            .and_then(|r| r.id.clone());
        if reviewed_by
            .as_deref()
            .is_some_and(|by| by.eq_ignore_ascii_case(&d.approver))
        {
            self.ctx
                .store
                .set_decision_state(
                    d.id,
                    DecisionState::Relayed,
                    Some("verified after restart"),
                    Utc::now(),
                )
                .await?;
        } else if stage.is_some_and(|s| {
            s.status.as_deref() == Some("InProgress")
                && s.review_result.as_deref() == Some("NotReviewed")
        }) {
            let k = u8::try_from(d.stage).unwrap_or(0);
            self.relay(
                d.id,
                &token,
                &request,
                k,
                &stage_id,
                d.review,
                &d.justification,
            )
            .await?;
        } else {
            self.ctx
                .store
                .set_decision_state(
                    d.id,
                    DecisionState::Conflict,
                    Some("decided elsewhere"),
                    Utc::now(),
                )
                .await?;
        }
        self.reconcile(&request).await
    }
}
