//! The reconcile planner: from Graph's view of a request and the keys of
//! what stagegate has already done, the effects still owed.
//!
//! Every effect has a deterministic idempotency key; the engine records the
//! key in the same transaction that queues the effect, and passes every
//! recorded key back in as `done`. Because `plan` returns only effects whose
//! key is not in `done`, replaying a trigger, a duplicate callout or a crash
//! after recording cannot do anything twice.
//!
//! Staleness: Graph reads can race, so a reconcile may see a view older than
//! one already planned from. Facts in a view (a stage was approved, the
//! request was denied, …) never become untrue later, so a stale view can
//! only repeat effects already keyed. The two things that are true only *for
//! a while* are guarded against `done` instead: an approval card is posted
//! only while nothing done shows its stage has moved on, and an activation
//! prompt only while the assignment has not been seen expiring.

use std::collections::BTreeSet;

use super::approval::{
    AssignmentState, RequestState, RequestView, ReviewResult, StageStatus, StageView,
};
use super::ids::{ObjectId, RequestId};

mod effect;
#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;

pub use effect::{
    AlertKind, DecidedVia, Denial, DenialReason, Effect, RequesterEvent, StageOutcome, decision_key,
};

/// The effects owed for `view` that are not in `done`, in a stable order
/// (retirements before new cards, so a stage's old buttons go first).
#[must_use]
pub fn plan(view: &RequestView, done: &BTreeSet<String>) -> Vec<Effect> {
    let r = view.id;
    let requester = view.requester;
    let notify = |event| Effect::NotifyRequester {
        request: r,
        requester,
        event,
    };
    let mut owed = vec![notify(RequesterEvent::Submitted)];

    match &view.stages {
        Some(_) => {
            for (k, stage) in view.numbered_stages() {
                plan_stage(view, k, stage, done, &mut owed);
            }
        }
        // Unreadable stages: a request that has ended still retires every
        // card it had, with what the request state alone tells.
        None => {
            if let Some(outcome) = outcome_from_state(&view.state) {
                for k in stages_with_cards(&r, done) {
                    owed.push(Effect::RetireStageCards {
                        request: r,
                        stage: k,
                        outcome: outcome.clone(),
                    });
                }
            }
        }
    }

    let expired = view.assignment == Some(AssignmentState::Expired);
    match view.state {
        RequestState::Denied => {
            let denial = denial(view);
            owed.push(notify(RequesterEvent::Denied {
                denial: denial.clone(),
            }));
            owed.push(Effect::SecurityAlert {
                request: r,
                kind: AlertKind::Denied { denial },
            });
        }
        RequestState::Canceled => owed.push(notify(RequesterEvent::Cancelled)),
        RequestState::DeliveryFailed => owed.push(notify(RequesterEvent::DeliveryFailed)),
        RequestState::Delivered => {
            owed.push(notify(RequesterEvent::Delivered));
            let prompt_over = expired || done.contains(&format!("activate-retire:{r}"));
            if !prompt_over && !done.contains(&format!("notify:{r}:expired")) {
                owed.push(Effect::PromptActivation {
                    request: r,
                    requester,
                });
            }
        }
        _ => {}
    }
    if expired {
        owed.push(notify(RequesterEvent::Expired));
        if done.contains(&format!("activate:{r}")) {
            owed.push(Effect::RetireActivationPrompt {
                request: r,
                requester,
            });
        }
    }

    let mut seen = BTreeSet::new();
    owed.retain(|e| {
        let key = e.key();
        !done.contains(&key) && seen.insert(key)
    });
    owed
}

fn plan_stage(
    view: &RequestView,
    k: u8,
    stage: &StageView,
    done: &BTreeSet<String>,
    owed: &mut Vec<Effect>,
) {
    let r = view.id;
    if stage.result == ReviewResult::Approved {
        owed.push(Effect::NotifyRequester {
            request: r,
            requester: view.requester,
            event: RequesterEvent::StagePassed {
                stage: k,
                by: stage.reviewed_by,
                justification: stage.justification.clone(),
            },
        });
    }
    if let Some(outcome) = stage_outcome(view, k, stage, done) {
        if has_cards(&r, k, done) {
            owed.push(Effect::RetireStageCards {
                request: r,
                stage: k,
                outcome,
            });
        }
        return;
    }
    let open = view.state == RequestState::PendingApproval && stage.is_awaiting_decision();
    if !open || stage_moved_on(&r, k, done) {
        return;
    }
    // The requester never approves their own request, whatever the
    // resolution upstream produced.
    let approvers: BTreeSet<&ObjectId> = stage
        .approvers
        .iter()
        .filter(|a| **a != view.requester)
        .collect();
    if approvers.is_empty() && !has_cards(&r, k, done) {
        owed.push(Effect::SecurityAlert {
            request: r,
            kind: AlertKind::NoApprovers { stage: k },
        });
    }
    for approver in approvers {
        owed.push(Effect::PostApprovalCard {
            request: r,
            stage: k,
            stage_id: stage.id,
            approver: *approver,
        });
    }
}

/// How stage `k` of `view` ended, as its cards are retired with, or `None`
/// while it may still be decided: what a card asked to show its current
/// state (a Teams `refresh`) must say, with no effect planned.
#[must_use]
pub fn stage_ended(view: &RequestView, k: u8, done: &BTreeSet<String>) -> Option<StageOutcome> {
    let (_, stage) = view.numbered_stages().find(|(n, _)| *n == k)?;
    stage_outcome(view, k, stage, done)
}

/// How stage `k` ended, or `None` while it may still be decided (or while
/// Graph shows something we cannot interpret, which must not retire cards).
fn stage_outcome(
    view: &RequestView,
    k: u8,
    stage: &StageView,
    done: &BTreeSet<String>,
) -> Option<StageOutcome> {
    let via = || match stage.reviewed_by {
        Some(by) if done.contains(&decision_key(&view.id, k, &by)) => DecidedVia::Chat,
        _ => DecidedVia::OutsideChat,
    };
    match stage.result {
        ReviewResult::Approved => {
            return Some(StageOutcome::Approved {
                by: stage.reviewed_by,
                justification: stage.justification.clone(),
                via: via(),
            });
        }
        ReviewResult::Denied => {
            return Some(StageOutcome::Denied {
                by: stage.reviewed_by,
                justification: stage.justification.clone(),
                via: via(),
            });
        }
        _ => {}
    }
    if stage.status == StageStatus::Expired {
        return Some(StageOutcome::TimedOut);
    }
    outcome_from_state(&view.state)
}

/// The outcome of an undecided stage implied by the request state alone.
fn outcome_from_state(state: &RequestState) -> Option<StageOutcome> {
    match state {
        RequestState::Canceled => Some(StageOutcome::Cancelled),
        RequestState::PendingApproval | RequestState::Submitted | RequestState::Other(_) => None,
        other => Some(StageOutcome::Closed {
            state: other.clone(),
        }),
    }
}

fn denial(view: &RequestView) -> Denial {
    for (k, stage) in view.numbered_stages() {
        if stage.result == ReviewResult::Denied {
            let reason = DenialReason::ByApprover {
                by: stage.reviewed_by,
                justification: stage.justification.clone(),
            };
            return Denial {
                stage: Some(k),
                reason,
            };
        }
        if stage.status == StageStatus::Expired {
            return Denial {
                stage: Some(k),
                reason: DenialReason::TimedOut,
            };
        }
    }
    Denial {
        stage: None,
        reason: DenialReason::Unexplained,
    }
}

/// Whether anything done shows stage `k` is over: it was retired or passed,
/// a later stage was reached, or the request reached an end.
fn stage_moved_on(r: &RequestId, k: u8, done: &BTreeSet<String>) -> bool {
    let ended = [
        "denied",
        "cancelled",
        "delivered",
        "delivery-failed",
        "expired",
    ]
    .iter()
    .any(|e| done.contains(&format!("notify:{r}:{e}")));
    let reached = |prefix: String| stage_numbers(&prefix, done).into_iter().any(|n| n >= k);
    ended
        || reached(format!("retire:{r}:"))
        || reached(format!("notify:{r}:stage-passed:"))
        || stage_numbers(&format!("card:{r}:"), done)
            .into_iter()
            .any(|n| n > k)
        || stage_numbers(&format!("alert:{r}:no-approvers:"), done)
            .into_iter()
            .any(|n| n > k)
}

fn has_cards(r: &RequestId, k: u8, done: &BTreeSet<String>) -> bool {
    let prefix = format!("card:{r}:{k}:");
    done.range(prefix.clone()..)
        .next()
        .is_some_and(|key| key.starts_with(&prefix))
}

fn stages_with_cards(r: &RequestId, done: &BTreeSet<String>) -> BTreeSet<u8> {
    stage_numbers(&format!("card:{r}:"), done)
}

/// The stage numbers right after `prefix` in the keys that start with it
/// (request and object ids are GUIDs, so `:` splits keys exactly).
fn stage_numbers(prefix: &str, done: &BTreeSet<String>) -> BTreeSet<u8> {
    done.range(prefix.to_owned()..)
        .take_while(|key| key.starts_with(prefix))
        .filter_map(|key| key[prefix.len()..].split(':').next()?.parse().ok())
        .collect()
}
