//! Decisions from approval cards: authorised against a fresh view (our
//! approver resolution *and* Graph's `assignedToMe`), recorded durably,
//! then relayed to Graph as the approver, at most once. A `relaying`
//! decision found at start-up is verified against Graph (`reviewedBy`)
//! before any retry.

use chrono::Utc;

use super::resume::Resume;
use super::{Engine, EngineError};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{CardAction, Message};
use crate::graph::GraphError;
use crate::graph::em::{self, Review};
use crate::store::decisions::DecisionRow;
use crate::store::decisions::NewDecision;
use crate::store::{DecisionState, StoreError};
use stagegate_domain::approval::{DecisionRefusal, authorize_decision};
use stagegate_domain::ids::{ObjectId, RequestId, StageId};

fn text(text: impl Into<String>) -> Message {
    Message::Text { text: text.into() }
}

impl Engine {
    /// A button press by `who` (whoever the platform authenticated).
    /// Decisions need `who` linked and a current-stage approver; activation
    /// and extension need `who` to be the requester.
    pub async fn action(
        &self,
        who: &ChatIdentity,
        action: &CardAction,
        justification: Option<&str>,
    ) -> Message {
        // Each person has their own budget: a flood from one never slows
        // anyone else's clicks.
        if self.clicks.check_key(&who.to_string()).is_err() {
            return text(
                "Slow down: you've pressed a lot of buttons in the last minute. Try again shortly.",
            );
        }
        let result = match action {
            CardAction::Approve { request, stage } => {
                self.decide(who, action, request, stage, Review::Approve, justification)
                    .await
            }
            CardAction::Deny { request, stage } => {
                self.decide(who, action, request, stage, Review::Deny, justification)
                    .await
            }
            CardAction::Activate { request, duration } => {
                self.activate(who, request, duration).await
            }
            CardAction::Extend { request } => self.extend(who, request).await,
        };
        let reply = result.unwrap_or_else(|e| {
            tracing::error!(error = %e, "action failed");
            text("Something went wrong on our side; nothing was changed. Try again in a minute.")
        });
        let (kind, request) = match action {
            CardAction::Approve { request, .. } => ("action.approve", request),
            CardAction::Deny { request, .. } => ("action.deny", request),
            CardAction::Activate { request, .. } => ("action.activate", request),
            CardAction::Extend { request } => ("action.extend", request),
        };
        self.audit_reply(who, kind, &request.to_string(), &reply)
            .await;
        reply
    }

    /// A click on a stage Graph already shows decided: the bot may not have
    /// heard yet (a notification or callout late or lost). Reconciling now
    /// queues the stage's retirement before the clicked card is rewritten
    /// (after the request's updates), which would otherwise put its live
    /// buttons back until the retirement came.
    async fn catch_up_after_stale_click(&self, request: &RequestId) {
        if let Err(e) = self.reconcile(request).await {
            tracing::warn!(%request, error = %e, "reconcile after a click on a decided stage failed");
        }
    }

    async fn decide(
        &self,
        who: &ChatIdentity,
        action: &CardAction,
        request: &RequestId,
        stage_id: &StageId,
        review: Review,
        justification: Option<&str>,
    ) -> Result<Message, EngineError> {
        let resume = Resume::Action {
            action: action.clone(),
            justification: justification.map(str::to_owned),
        };
        let (Some(clicker), Some(token)) =
            (self.linked_user(who).await?, self.token_of(who).await?)
        else {
            return Ok(self
                .sign_in_prompt(
                    who,
                    "Sign in once so I can record your decision as you. It completes by itself after sign-in.",
                    None,
                    Some(&resume),
                )
                .await);
        };
        let Some(snapshot) = self.snapshot(request).await? else {
            return Ok(text(format!("I don't know request {request}.")));
        };
        let refuse = |r: DecisionRefusal| Ok(text(r.to_string()));
        let k = match authorize_decision(&snapshot.view, &clicker, stage_id) {
            Ok(k) => k,
            Err(DecisionRefusal::AlreadyDecided { result, by }) => {
                self.catch_up_after_stale_click(request).await;
                let by = by.map(|b| snapshot.name(&b));
                let verb = result.as_str().to_lowercase();
                return Ok(text(match by {
                    Some(by) => format!("This stage was already {verb} by {by}."),
                    None => format!("This stage was already {verb}."),
                }));
            }
            Err(r) => return refuse(r),
        };
        // Graph's own say: the stage must be assigned to the clicker.
        match self.read_stages_with(&token, request).await {
            Ok(stages) => {
                let mine = stages
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(&stage_id.to_string()))
                    .and_then(|s| s.assigned_to_me);
                if mine == Some(false) {
                    return refuse(DecisionRefusal::NotAnApprover);
                }
            }
            Err(GraphError::Forbidden { .. } | GraphError::NotFound { .. }) => {
                return refuse(DecisionRefusal::NotAnApprover);
            }
            Err(e) => return Err(e.into()),
        }
        let justification = justification.map(str::trim).unwrap_or_default();
        if justification.is_empty() && snapshot.justification_required(k) {
            return Ok(text(
                "This stage needs a justification: say why you approve or deny, then press the button again.",
            ));
        }
        if let Some(max_age) = snapshot.package.approval_mfa_max_age
            && !self.recent_mfa(who, max_age).await?
        {
            return Ok(self
                .sign_in_prompt(
                    who,
                    &format!(
                        "Deciding on {} needs a multifactor sign-in within the last {} minutes. Sign in again with MFA; your decision is kept and completes by itself afterwards.",
                        snapshot.package.entry.display_name,
                        max_age.num_minutes()
                    ),
                    Some(crate::identity::link::MFA_CLAIMS),
                    Some(&resume),
                )
                .await);
        }
        let recorded = self
            .store
            .record_decision(
                &NewDecision {
                    request_id: request,
                    stage: k,
                    stage_id,
                    approver: &clicker,
                    identity: who,
                    review,
                    justification,
                },
                Utc::now(),
            )
            .await;
        let id = match recorded {
            Ok(id) => id,
            Err(StoreError::Conflict(_)) => {
                let existing = self.store.live_decision(request, k).await?;
                let mine = existing
                    .as_ref()
                    .is_some_and(|d| d.approver == clicker.to_string());
                return Ok(text(if mine {
                    "Your decision on this stage is already recorded.".to_owned()
                } else {
                    let by = existing
                        .and_then(|d| d.approver.parse::<ObjectId>().ok())
                        .map_or_else(|| "another approver".to_owned(), |a| snapshot.name(&a));
                    format!("{by} has already decided this stage.")
                }));
            }
            Err(e) => return Err(e.into()),
        };
        self.audit(
            &clicker.to_string(),
            "decision.recorded",
            &format!("{request}:{k}"),
            review.as_str(),
            serde_json::json!({ "stage": k }),
        )
        .await;
        let outcome = self
            .relay(id, &token, request, k, stage_id, review, justification)
            .await?;
        let reply = match outcome {
            Relay::Relayed => text(format!(
                "Recorded: you {} stage {k} of request {request}.",
                if review == Review::Approve { "approved" } else { "denied" }
            )),
            Relay::Conflict => {
                self.catch_up_after_stale_click(request).await;
                let by = self
                    .snapshot(request)
                    .await?
                    .and_then(|s| {
                        let (_, stage) = s.view.numbered_stages().find(|(n, _)| *n == k)?;
                        Some(stage.reviewed_by.map_or_else(
                            || "nobody (it timed out)".to_owned(),
                            |b| s.name(&b),
                        ))
                    })
                    .unwrap_or_else(|| "someone else".into());
                text(format!("This stage was already decided by {by}."))
            }
            Relay::StepUp(claims) => {
                self.sign_in_prompt(
                    who,
                    "Microsoft Entra asks you to sign in again (stronger authentication) before this decision can be recorded.",
                    Some(&claims),
                    Some(&resume),
                )
                .await
            }
            Relay::Refused(why) => text(format!("Microsoft Entra refused the decision: {why}")),
            Relay::Uncertain => text(
                "I couldn't confirm the decision with Microsoft Entra yet; I'll check and retry.",
            ),
        };
        if let Err(e) = self.reconcile(request).await {
            tracing::warn!(request = %request, error = %e, "reconcile after decision failed");
        }
        Ok(reply)
    }

    /// Whether `who` completed MFA within `max_age`. Entra's `auth_time`
    /// is real time, so it is compared with the wall clock, not the
    /// engine's (emulated in the sandbox) workflow clock.
    async fn recent_mfa(
        &self,
        who: &ChatIdentity,
        max_age: chrono::Duration,
    ) -> Result<bool, EngineError> {
        let at = self.store.mfa_at(who).await?;
        Ok(at.is_some_and(|at| Utc::now() - at <= max_age))
    }

    /// Sends a recorded decision to Graph as the approver.
    #[allow(clippy::too_many_arguments)]
    async fn relay(
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
        self.store
            .set_decision_state(id, DecisionState::Relaying, None, now())
            .await?;
        let result =
            em::decide_stage(&self.graph, token, request, stage_id, review, justification).await;
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
                return Ok(Relay::Uncertain);
            }
        };
        self.store
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

    /// Start-up: settles decisions a crash left recorded or relaying.
    pub async fn recover_decisions(&self) -> Result<(), EngineError> {
        let _one_at_a_time = self.recovery.lock().await;
        for d in self.store.unrelayed_decisions().await? {
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
            self.store
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
            self.store
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
            self.store
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

enum Relay {
    Relayed,
    Conflict,
    StepUp(String),
    Refused(String),
    Uncertain,
}
