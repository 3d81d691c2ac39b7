//! Decisions from approval cards: authorised against a fresh view (our
//! approver resolution *and* Graph's `assignedToMe`), recorded durably,
//! then relayed to Graph as the approver, at most once. A `relaying`
//! decision found at start-up is verified against Graph (`reviewedBy`)
//! before any retry.

use chrono::Utc;
use governor::DefaultKeyedRateLimiter;
use secrecy::SecretString;

use super::acted::Acted;
use super::guard::{Checked, Guard, Guarded};
use super::resume::Resume;
use super::view::Snapshot;
use super::{Engine, EngineError, per_minute};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{CardAction, Message};
use crate::config::EngineSettings;
use crate::graph::GraphError;
use crate::graph::em::Review;
use crate::store::StoreError;
use crate::store::decisions::NewDecision;
use stagegate_domain::approval::{DecisionRefusal, authorize_decision};
use stagegate_domain::ids::{ObjectId, RequestId, StageId};

mod recovery;
mod relay;

use relay::{Relay, refusal_reason};

fn text(text: impl Into<String>) -> Message {
    Message::Text { text: text.into() }
}

/// The decision workflow's own state.
pub(super) struct Decisions {
    /// Clicks per person per minute; each person has their own budget.
    pub(super) throttle: DefaultKeyedRateLimiter<String>,
    /// Decision recovery runs one at a time (start-up and on demand), so a
    /// recorded decision is never relayed twice by two recoveries.
    pub(super) recovery: tokio::sync::Mutex<()>,
}

impl Decisions {
    pub(super) fn new(settings: &EngineSettings) -> Self {
        Self {
            throttle: DefaultKeyedRateLimiter::keyed(per_minute(settings.clicks_per_minute)),
            recovery: tokio::sync::Mutex::new(()),
        }
    }
}

/// A refusal as an action's result.
fn refused(message: Message) -> Acted {
    Acted::Refused(message)
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
        self.act(who, action, justification).await.into_message()
    }

    /// [`Engine::action`], saying whether the request changed.
    pub async fn act(
        &self,
        who: &ChatIdentity,
        action: &CardAction,
        justification: Option<&str>,
    ) -> Acted {
        // Each person has their own budget: a flood from one never slows
        // anyone else's clicks.
        let deciding = matches!(action, CardAction::Approve { .. } | CardAction::Deny { .. });
        if self.decisions.throttle.check_key(&who.to_string()).is_err() {
            if deciding {
                self.ctx.metrics.refused("throttled");
            }
            return refused(text(
                "Slow down: you've pressed a lot of buttons in the last minute. Try again shortly.",
            ));
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
            if deciding {
                self.ctx.metrics.refused("error");
            }
            refused(text(
                "Something went wrong on our side; nothing was changed. Try again in a minute.",
            ))
        });
        let (kind, request) = match action {
            CardAction::Approve { request, .. } => ("action.approve", request),
            CardAction::Deny { request, .. } => ("action.deny", request),
            CardAction::Activate { request, .. } => ("action.activate", request),
            CardAction::Extend { request } => ("action.extend", request),
        };
        self.audit_reply(who, kind, &request.to_string(), reply.message())
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

    /// A decision: the refusal checks (sign-in, approver, Graph's own
    /// assignment, justification, MFA age), then the durable record, the
    /// relay to Graph, the answer, and a reconcile for everyone's cards.
    async fn decide(
        &self,
        who: &ChatIdentity,
        action: &CardAction,
        request: &RequestId,
        stage_id: &StageId,
        review: Review,
        justification: Option<&str>,
    ) -> Result<Acted, EngineError> {
        let clicked = std::time::Instant::now();
        let resume = Resume::Action {
            action: action.clone(),
            justification: justification.map(str::to_owned),
        };
        let guard = Guard {
            sign_in: "Sign in once so I can record your decision as you. It completes by itself after sign-in.",
            resume: Some(&resume),
            requester_only: None,
        };
        let Guarded {
            me: clicker,
            token,
            snapshot,
        } = match self.guard(who, request, &guard).await? {
            Ok(guarded) => guarded,
            Err(refusal) => {
                self.ctx.metrics.refused(match refusal {
                    Message::SignInPrompt { .. } => "not_signed_in",
                    _ => "unknown_request",
                });
                return Ok(refused(refusal));
            }
        };
        let k = match self.authorize(&snapshot, &clicker, stage_id).await {
            Ok(k) => k,
            Err(refusal) => return Ok(refused(refusal)),
        };
        if let Err(refusal) = self.assigned_by_graph(&token, request, stage_id).await? {
            self.ctx.metrics.refused("not_assigned_by_graph");
            return Ok(refused(refusal));
        }
        let justification = justification.map(str::trim).unwrap_or_default();
        if let Err(refusal) = self
            .ready_to_decide(who, &snapshot, k, justification, &resume)
            .await?
        {
            return Ok(refused(refusal));
        }
        let decision = NewDecision {
            request_id: request,
            stage: k,
            stage_id,
            approver: &clicker,
            identity: who,
            review,
            justification,
        };
        let id = match self.record(&decision, &snapshot).await? {
            Ok(id) => id,
            Err(refusal) => return Ok(refused(refusal)),
        };
        let outcome = self
            .relay(id, &token, request, k, stage_id, review, justification)
            .await?;
        if matches!(outcome, Relay::Relayed) {
            self.ctx.metrics.click_to_graph(clicked.elapsed());
        }
        let changed = matches!(outcome, Relay::Relayed | Relay::Uncertain);
        let reply = self
            .relay_reply(who, request, k, review, outcome, &resume)
            .await?;
        let reply = if changed {
            Acted::Changed(reply)
        } else {
            Acted::Refused(reply)
        };
        if let Err(e) = self.reconcile(request).await {
            tracing::warn!(request = %request, error = %e, "reconcile after decision failed");
        }
        Ok(reply)
    }

    /// Our own approver resolution: the stage number `clicker` may decide,
    /// or why not. A stage already decided is caught up on first.
    async fn authorize(
        &self,
        snapshot: &Snapshot,
        clicker: &ObjectId,
        stage_id: &StageId,
    ) -> Checked<u8> {
        let checked = authorize_decision(&snapshot.view, clicker, stage_id);
        if let Err(refusal) = &checked {
            self.ctx.metrics.refused(refusal_reason(refusal));
        }
        match checked {
            Ok(k) => Ok(k),
            Err(DecisionRefusal::AlreadyDecided { result, by }) => {
                self.catch_up_after_stale_click(&snapshot.view.id).await;
                let by = by.map(|b| snapshot.name(&b));
                let verb = result.as_str().to_lowercase();
                Err(text(match by {
                    Some(by) => format!("This stage was already {verb} by {by}."),
                    None => format!("This stage was already {verb}."),
                }))
            }
            Err(r) => Err(text(r.to_string())),
        }
    }

    /// Graph's own say: the stage must be assigned to the token's owner.
    async fn assigned_by_graph(
        &self,
        token: &SecretString,
        request: &RequestId,
        stage_id: &StageId,
    ) -> Result<Checked<()>, EngineError> {
        let not_an_approver = || Ok(Err(text(DecisionRefusal::NotAnApprover.to_string())));
        match self.read_stages_with(token, request).await {
            Ok(stages) => {
                let mine = stages
                    .iter()
                    .find(|s| s.id.eq_ignore_ascii_case(&stage_id.to_string()))
                    .and_then(|s| s.assigned_to_me);
                if mine == Some(false) {
                    return not_an_approver();
                }
                Ok(Ok(()))
            }
            Err(GraphError::Forbidden { .. } | GraphError::NotFound { .. }) => not_an_approver(),
            Err(e) => Err(e.into()),
        }
    }

    /// What the package asks of a decision beyond being an approver: a
    /// justification where the stage needs one, a recent MFA sign-in
    /// where the package demands it.
    async fn ready_to_decide(
        &self,
        who: &ChatIdentity,
        snapshot: &Snapshot,
        k: u8,
        justification: &str,
        resume: &Resume,
    ) -> Result<Checked<()>, EngineError> {
        if justification.is_empty() && snapshot.justification_required(k) {
            self.ctx.metrics.refused("justification_missing");
            return Ok(Err(text(
                "This stage needs a justification: say why you approve or deny, then press the button again.",
            )));
        }
        if let Some(max_age) = snapshot.package.approval_mfa_max_age
            && !self.recent_mfa(who, max_age).await?
        {
            self.ctx.metrics.refused("mfa_too_old");
            return Ok(Err(self
                .sign_in_prompt(
                    who,
                    &format!(
                        "Deciding on {} needs a multifactor sign-in within the last {} minutes. Sign in again with MFA; your decision is kept and completes by itself afterwards.",
                        snapshot.package.entry.display_name,
                        max_age.num_minutes()
                    ),
                    Some(crate::identity::link::MFA_CLAIMS),
                    Some(resume),
                )
                .await));
        }
        Ok(Ok(()))
    }

    /// Records the decision before it is relayed, so a crash in between is
    /// recovered rather than lost; only one live decision per stage wins.
    async fn record(
        &self,
        decision: &NewDecision<'_>,
        snapshot: &Snapshot,
    ) -> Result<Checked<i64>, EngineError> {
        let id = match self.ctx.store.record_decision(decision, Utc::now()).await {
            Ok(id) => id,
            Err(StoreError::Conflict(_)) => {
                self.ctx.metrics.refused("already_recorded");
                let existing = self
                    .ctx
                    .store
                    .live_decision(decision.request_id, decision.stage)
                    .await?;
                let mine = existing
                    .as_ref()
                    .is_some_and(|d| d.approver == decision.approver.to_string());
                return Ok(Err(text(if mine {
                    "Your decision on this stage is already recorded.".to_owned()
                } else {
                    let by = existing
                        .and_then(|d| d.approver.parse::<ObjectId>().ok())
                        .map_or_else(|| "another approver".to_owned(), |a| snapshot.name(&a));
                    format!("{by} has already decided this stage.")
                })));
            }
            Err(e) => return Err(e.into()),
        };
        let k = decision.stage;
        self.audit(
            &decision.approver.to_string(),
            "decision.recorded",
            &format!("{}:{k}", decision.request_id),
            decision.review.as_str(),
            serde_json::json!({ "stage": k }),
        )
        .await;
        Ok(Ok(id))
    }

    /// What the approver is told once the relay's outcome is known.
    async fn relay_reply(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
        k: u8,
        review: Review,
        outcome: Relay,
        resume: &Resume,
    ) -> Result<Message, EngineError> {
        Ok(match outcome {
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
                    Some(resume),
                )
                .await
            }
            Relay::Refused(why) => text(format!("Microsoft Entra refused the decision: {why}")),
            Relay::Uncertain => text(
                "I couldn't confirm the decision with Microsoft Entra yet; I'll check and retry.",
            ),
        })
    }

    /// Whether `who` completed MFA within `max_age`. Entra's `auth_time`
    /// is real time, so it is compared with the wall clock, not the
    /// engine's (emulated in the sandbox) workflow clock.
    async fn recent_mfa(
        &self,
        who: &ChatIdentity,
        max_age: chrono::Duration,
    ) -> Result<bool, EngineError> {
        let at = self.ctx.store.mfa_at(who).await?;
        Ok(at.is_some_and(|at| Utc::now() - at <= max_age))
    }
}
