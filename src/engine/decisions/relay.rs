//! Relaying a recorded decision to Graph as the approver, and what became
//! of it: relayed, decided by someone else meanwhile, a step-up to ask for,
//! or refused.

use chrono::Utc;

use crate::engine::{Engine, EngineError};
use crate::graph::GraphError;
use crate::graph::em::{self, Review};
use crate::store::DecisionState;
use stagegate_domain::approval::DecisionRefusal;
use stagegate_domain::ids::{RequestId, StageId};

impl Engine {
    /// Sends a recorded decision to Graph as the approver.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn relay(
        &self,
        id: i64,
        token: &secrecy::SecretString,
        request: &RequestId,
        k: u8,
        stage_id: &StageId,
        review: Review,
        justification: &str,
    ) -> Result<Relay, EngineError> {
        let now = Utc::now;
        self.ctx
            .store
            .set_decision_state(id, DecisionState::Relaying, None, now())
            .await?;
        let result = em::decide_stage(
            &self.ctx.graph,
            token,
            request,
            stage_id,
            review,
            justification,
        )
        .await;
        let review_label = match review {
            Review::Approve => "approve",
            Review::Deny => "deny",
        };
        let (state, outcome) = match result {
            Ok(()) => (DecisionState::Relayed, Relay::Relayed),
            Err(GraphError::Conflict { .. }) => (DecisionState::Conflict, Relay::Conflict),
            Err(GraphError::ClaimsChallenge { claims }) => {
                (DecisionState::Failed, Relay::StepUp(claims))
            }
            Err(
                e @ (GraphError::Forbidden { .. }
                | GraphError::InvalidRequest { .. }
                | GraphError::NotFound { .. }
                | GraphError::Unauthorized { .. }),
            ) => (DecisionState::Failed, Relay::Refused(e.to_string())),
            // Timeouts and 5xx leave it unknown whether Graph applied it:
            // stay `relaying`, so recovery checks `reviewedBy` first.
            Err(e) => {
                tracing::warn!(request = %request, stage = k, error = %e, "decision relay uncertain");
                self.ctx.metrics.unconfirmed();
                return Ok(Relay::Uncertain);
            }
        };
        let metrics = &self.ctx.metrics;
        match &outcome {
            Relay::Relayed => metrics.relayed(review_label),
            Relay::Conflict => metrics.refused("decided_elsewhere"),
            Relay::StepUp(_) => metrics.refused("step_up"),
            Relay::Refused(_) => metrics.refused("entra_refused"),
            Relay::Uncertain => {}
        }
        self.ctx
            .store
            .set_decision_state(id, state, None, now())
            .await?;
        self.audit(
            "stagegate",
            "decision.relay",
            &format!("{request}:{k}"),
            state.as_str(),
            serde_json::json!({ "decision": id }),
        )
        .await;
        Ok(outcome)
    }
}

pub(super) enum Relay {
    Relayed,
    Conflict,
    StepUp(String),
    Refused(String),
    Uncertain,
}

/// The `reason` label of a refusal by our own approver resolution.
pub(super) fn refusal_reason(refusal: &DecisionRefusal) -> &'static str {
    match refusal {
        DecisionRefusal::ApprovalUnreadable => "approval_unreadable",
        DecisionRefusal::UnknownStage => "unknown_stage",
        DecisionRefusal::Requester => "own_request",
        DecisionRefusal::AlreadyDecided { .. } => "already_decided",
        DecisionRefusal::TimedOut => "timed_out",
        DecisionRefusal::RequestNotPending { .. } => "not_pending",
        DecisionRefusal::StaleCard { .. } => "stale_card",
        DecisionRefusal::NotAnApprover => "not_an_approver",
    }
}
