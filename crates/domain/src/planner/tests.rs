//! Scenario tests: one request through the situations the engine meets.

use std::collections::BTreeSet;

use super::*;
use crate::testkit::{decide, oid, rid, sid, stage, start, view};

/// Plans `v` against `done`, records every key, and returns the effects.
fn apply(v: &RequestView, done: &mut BTreeSet<String>) -> Vec<Effect> {
    let effects = plan(v, done);
    for e in &effects {
        assert!(done.insert(e.key()), "planned twice: {}", e.key());
    }
    assert!(plan(v, done).is_empty(), "plan is not idempotent for {v:?}");
    effects
}

fn cards(effects: &[Effect]) -> Vec<(u8, ObjectId)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::PostApprovalCard {
                stage, approver, ..
            } => Some((*stage, *approver)),
            _ => None,
        })
        .collect()
}

fn retired(effects: &[Effect]) -> Vec<(u8, StageOutcome)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::RetireStageCards { stage, outcome, .. } => Some((*stage, outcome.clone())),
            _ => None,
        })
        .collect()
}

fn events(effects: &[Effect]) -> Vec<RequesterEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::NotifyRequester { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn three_stages() -> Vec<StageView> {
    vec![stage(1, &[1, 2]), stage(2, &[3]), stage(3, &[4])]
}

#[test]
fn submitted_then_cards_for_stage_one_never_to_the_requester() {
    let mut done = BTreeSet::new();
    let mut v = view(three_stages());
    v.state = RequestState::Submitted;
    assert_eq!(events(&apply(&v, &mut done)), [RequesterEvent::Submitted]);

    let mut stages = three_stages();
    stages[0] = start(stage(1, &[1, 0, 2, 1]));
    let effects = apply(&view(stages), &mut done);
    assert_eq!(cards(&effects), [(1, oid(1)), (1, oid(2))]);
    assert!(events(&effects).is_empty(), "submitted was already told");
}

#[test]
fn decided_in_chat_versus_outside_chat() {
    for (recorded, via) in [(true, DecidedVia::Chat), (false, DecidedVia::OutsideChat)] {
        let mut done = BTreeSet::new();
        let mut stages = three_stages();
        stages[0] = start(stages[0].clone());
        apply(&view(stages.clone()), &mut done);
        if recorded {
            done.insert(decision_key(&rid(1), 1, &oid(2)));
        }
        stages[0] = decide(stages[0].clone(), ReviewResult::Approved, 2, "looks right");
        stages[1] = start(stages[1].clone());
        let effects = apply(&view(stages), &mut done);
        let outcome = StageOutcome::Approved {
            by: Some(oid(2)),
            justification: "looks right".into(),
            via,
        };
        assert_eq!(retired(&effects), [(1, outcome)]);
        assert_eq!(cards(&effects), [(2, oid(3))]);
        let passed = RequesterEvent::StagePassed {
            stage: 1,
            by: Some(oid(2)),
            justification: "looks right".into(),
        };
        assert_eq!(events(&effects), [passed]);
    }
}

#[test]
fn escalation_posts_cards_to_the_new_approvers_only() {
    let mut done = BTreeSet::new();
    let mut stages = three_stages();
    stages[0] = start(stages[0].clone());
    apply(&view(stages.clone()), &mut done);
    stages[0].escalated = true;
    stages[0].approvers.extend([oid(7), oid(1)]);
    let effects = apply(&view(stages), &mut done);
    assert_eq!(effects.len(), 1);
    assert_eq!(cards(&effects), [(1, oid(7))]);
}

#[test]
fn timeout_retires_and_tells_requester_and_security() {
    let mut done = BTreeSet::new();
    let mut stages = three_stages();
    stages[0] = start(stages[0].clone());
    apply(&view(stages.clone()), &mut done);
    stages[0].status = StageStatus::Expired;
    let mut v = view(stages);
    v.state = RequestState::Denied;
    let effects = apply(&v, &mut done);
    assert_eq!(retired(&effects), [(1, StageOutcome::TimedOut)]);
    let denial = Denial {
        stage: Some(1),
        reason: DenialReason::TimedOut,
    };
    assert_eq!(
        events(&effects),
        [RequesterEvent::Denied {
            denial: denial.clone()
        }]
    );
    assert!(effects.contains(&Effect::SecurityAlert {
        request: rid(1),
        kind: AlertKind::Denied { denial }
    }));
}

#[test]
fn denial_at_stage_two_never_reaches_stage_three() {
    let mut done = BTreeSet::new();
    let mut stages = three_stages();
    stages[0] = decide(stages[0].clone(), ReviewResult::Approved, 1, "");
    stages[1] = start(stages[1].clone());
    apply(&view(stages.clone()), &mut done);
    stages[1] = decide(stages[1].clone(), ReviewResult::Denied, 3, "not today");
    stages[2] = start(stages[2].clone()); // even if Graph showed it started
    let mut v = view(stages);
    v.state = RequestState::Denied;
    let effects = apply(&v, &mut done);
    let outcome = StageOutcome::Denied {
        by: Some(oid(3)),
        justification: "not today".into(),
        via: DecidedVia::OutsideChat,
    };
    assert_eq!(retired(&effects), [(2, outcome)]);
    assert!(cards(&effects).is_empty());
    let reason = DenialReason::ByApprover {
        by: Some(oid(3)),
        justification: "not today".into(),
    };
    assert_eq!(
        events(&effects),
        [RequesterEvent::Denied {
            denial: Denial {
                stage: Some(2),
                reason
            }
        }]
    );
    assert!(
        !done
            .iter()
            .any(|k| k.starts_with(&format!("card:{}:3:", rid(1))))
    );
}

#[test]
fn delivery_prompts_once_and_expiry_retires_the_prompt() {
    let mut done = BTreeSet::new();
    let mut v = view(vec![decide(
        stage(1, &[1]),
        ReviewResult::Approved,
        1,
        "ok",
    )]);
    v.state = RequestState::Delivered;
    v.assignment = Some(AssignmentState::Delivered);
    let effects = apply(&v, &mut done);
    assert!(events(&effects).contains(&RequesterEvent::Delivered));
    assert!(effects.contains(&Effect::PromptActivation {
        request: rid(1),
        requester: oid(0)
    }));
    assert!(retired(&effects).is_empty(), "no card was ever posted");

    v.assignment = Some(AssignmentState::Expired);
    let effects = apply(&v, &mut done);
    assert_eq!(events(&effects), [RequesterEvent::Expired]);
    assert!(effects.contains(&Effect::RetireActivationPrompt {
        request: rid(1),
        requester: oid(0)
    }));
}

#[test]
fn expired_before_first_seen_never_prompts() {
    let mut v = view(vec![decide(stage(1, &[1]), ReviewResult::Approved, 1, "")]);
    v.state = RequestState::Delivered;
    v.assignment = Some(AssignmentState::Expired);
    let effects = apply(&v, &mut BTreeSet::new());
    assert!(!effects.iter().any(|e| matches!(
        e,
        Effect::PromptActivation { .. } | Effect::RetireActivationPrompt { .. }
    )));
    assert!(events(&effects).contains(&RequesterEvent::Expired));
}

#[test]
fn cancel_retires_open_cards_even_when_stages_are_unreadable() {
    for readable in [true, false] {
        let mut done = BTreeSet::new();
        let mut stages = three_stages();
        stages[0] = start(stages[0].clone());
        apply(&view(stages.clone()), &mut done);
        let mut v = view(stages);
        v.state = RequestState::Canceled;
        if !readable {
            v.stages = None;
        }
        let effects = apply(&v, &mut done);
        assert_eq!(
            retired(&effects),
            [(1, StageOutcome::Cancelled)],
            "readable: {readable}"
        );
        assert_eq!(events(&effects), [RequesterEvent::Cancelled]);
    }
}

#[test]
fn nobody_to_ask_alerts_security_once() {
    let mut done = BTreeSet::new();
    let v = view(vec![start(stage(1, &[0]))]);
    let effects = apply(&v, &mut done);
    assert!(effects.contains(&Effect::SecurityAlert {
        request: rid(1),
        kind: AlertKind::NoApprovers { stage: 1 }
    }));
    assert!(cards(&effects).is_empty());
}

#[test]
fn stale_view_posts_no_card_for_a_stage_that_moved_on() {
    let mut done = BTreeSet::new();
    let mut stages = three_stages();
    let early = {
        let mut s = stages.clone();
        s[0] = start(s[0].clone());
        view(s)
    };
    stages[0] = decide(stages[0].clone(), ReviewResult::Approved, 1, "");
    stages[1] = start(stages[1].clone());
    apply(&view(stages), &mut done);
    assert!(
        apply(&early, &mut done).is_empty(),
        "the stale view must not post stage-1 cards"
    );
}

#[test]
fn unknown_graph_values_do_nothing_rather_than_guess() {
    let mut done = BTreeSet::new();
    let mut stages = three_stages();
    stages[0] = start(stages[0].clone());
    apply(&view(stages.clone()), &mut done);
    stages[0].status = StageStatus::Other("Escalating".into());
    let mut v = view(stages);
    assert!(apply(&v, &mut done).is_empty());
    v.state = RequestState::Other("unknownFutureValue".into());
    assert!(apply(&v, &mut done).is_empty());
}

#[test]
fn keys_are_stable_and_effects_serialise() {
    let card = Effect::PostApprovalCard {
        request: rid(1),
        stage: 2,
        stage_id: sid(2),
        approver: oid(3),
    };
    assert_eq!(card.key(), format!("card:{}:2:{}", rid(1), oid(3)));
    assert_eq!(card.request(), &rid(1));
    let json = serde_json::to_value(&card).expect("ser");
    assert_eq!(json["type"], "postApprovalCard");
    assert_eq!(json["stageId"], sid(2).to_string());
    let back: Effect = serde_json::from_value(json).expect("de");
    assert_eq!(back, card);
}
