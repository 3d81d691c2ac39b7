//! Property tests: a random request history, observed in a random order
//! with duplicates, stale reads and skipped states, applies exactly the
//! owed effects, each once.
//!
//! The model of observation: reconciles read Graph at random moments, so
//! each observation is any view of the history (older ones arrive late),
//! and the last reconcile sees the final view. A view is *fresh* when it is
//! at least as new as every view observed before it. The oracle below
//! states, independently of the planner, what is owed: every per-view
//! obligation of the fresh views, plus the retirement of every stage that
//! got cards and has ended in the final view.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::approval::StageView;
use crate::testkit::{decide, oid, rid, stage, start, view};

#[derive(Clone, Debug)]
enum StageEnd {
    Approve { by: u8, chat: bool },
    Deny { by: u8, chat: bool },
    Timeout,
    Cancel,
    Stuck,
}

#[derive(Clone, Debug)]
struct StageScript {
    approvers: Vec<u8>,
    escalation: Vec<u8>,
    end: StageEnd,
}

#[derive(Clone, Debug)]
enum AfterApproval {
    Delivered { expire: bool },
    DeliveryFailed,
    Scheduled,
}

#[derive(Clone, Debug)]
struct Script {
    stages: Vec<StageScript>,
    after: AfterApproval,
}

fn stage_script() -> impl Strategy<Value = StageScript> {
    let who = || prop::collection::vec(0u8..7, 0..3);
    let end = prop_oneof![
        4 => (1u8..7, any::<bool>()).prop_map(|(by, chat)| StageEnd::Approve { by, chat }),
        1 => (1u8..7, any::<bool>()).prop_map(|(by, chat)| StageEnd::Deny { by, chat }),
        1 => Just(StageEnd::Timeout),
        1 => Just(StageEnd::Cancel),
        1 => Just(StageEnd::Stuck),
    ];
    (who(), who(), end).prop_map(|(approvers, escalation, end)| StageScript {
        approvers,
        escalation,
        end,
    })
}

fn script() -> impl Strategy<Value = Script> {
    let after = prop_oneof![
        any::<bool>().prop_map(|expire| AfterApproval::Delivered { expire }),
        Just(AfterApproval::DeliveryFailed),
        Just(AfterApproval::Scheduled),
    ];
    (prop::collection::vec(stage_script(), 1..=3), after)
        .prop_map(|(stages, after)| Script { stages, after })
}

/// The views Graph shows over time, and the decision records the engine
/// writes (view index from which on the record exists, key).
fn history(script: &Script) -> (Vec<RequestView>, Vec<(usize, String)>) {
    let mut stages: Vec<StageView> = script
        .stages
        .iter()
        .zip(1u8..)
        .map(|(s, n)| stage(n, &s.approvers))
        .collect();
    let mut views = Vec::new();
    let mut decisions = Vec::new();
    let snap = |stages: &[StageView], state: RequestState, views: &mut Vec<RequestView>| {
        let mut v = view(stages.to_vec());
        v.state = state;
        views.push(v);
    };
    snap(&stages, RequestState::Submitted, &mut views);
    for (i, (s, k)) in script.stages.iter().zip(1u8..).enumerate() {
        stages[i] = start(stages[i].clone());
        snap(&stages, RequestState::PendingApproval, &mut views);
        if !s.escalation.is_empty() {
            stages[i].escalated = true;
            stages[i]
                .approvers
                .extend(s.escalation.iter().map(|&a| oid(a)));
            snap(&stages, RequestState::PendingApproval, &mut views);
        }
        let mut decided =
            |result, by: u8, chat: bool, stages: &mut Vec<StageView>, views: &Vec<RequestView>| {
                // Only a listed approver can decide in chat.
                if chat && by != 0 && stages[i].approvers.contains(&oid(by)) {
                    decisions.push((views.len(), decision_key(&rid(1), k, &oid(by))));
                }
                stages[i] = decide(stages[i].clone(), result, by, &format!("stage {k}"));
            };
        match s.end {
            StageEnd::Approve { by, chat } => {
                decided(ReviewResult::Approved, by, chat, &mut stages, &views);
                snap(&stages, RequestState::PendingApproval, &mut views);
            }
            StageEnd::Deny { by, chat } => {
                decided(ReviewResult::Denied, by, chat, &mut stages, &views);
                snap(&stages, RequestState::Denied, &mut views);
                return (views, decisions);
            }
            StageEnd::Timeout => {
                stages[i].status = StageStatus::Expired;
                snap(&stages, RequestState::Denied, &mut views);
                return (views, decisions);
            }
            StageEnd::Cancel => {
                snap(&stages, RequestState::Canceled, &mut views);
                return (views, decisions);
            }
            StageEnd::Stuck => return (views, decisions),
        }
    }
    snap(&stages, RequestState::Delivering, &mut views);
    match script.after {
        AfterApproval::Delivered { expire } => {
            snap(&stages, RequestState::Delivered, &mut views);
            views.last_mut().expect("just pushed").assignment = Some(AssignmentState::Delivered);
            if expire {
                snap(&stages, RequestState::Delivered, &mut views);
                views.last_mut().expect("just pushed").assignment = Some(AssignmentState::Expired);
            }
        }
        AfterApproval::DeliveryFailed => snap(&stages, RequestState::DeliveryFailed, &mut views),
        AfterApproval::Scheduled => snap(&stages, RequestState::Scheduled, &mut views),
    }
    (views, decisions)
}

/// What one view obliges, regardless of history (the oracle's half).
fn view_keys(v: &RequestView) -> BTreeSet<String> {
    let r = v.id;
    let mut keys = BTreeSet::from([format!("notify:{r}:submitted")]);
    for (s, k) in v.stages.iter().flatten().zip(1u8..) {
        if s.result == ReviewResult::Approved {
            keys.insert(format!("notify:{r}:stage-passed:{k}"));
        }
        let open = v.state == RequestState::PendingApproval
            && s.status == StageStatus::InProgress
            && s.result == ReviewResult::NotReviewed;
        if open {
            let eligible: BTreeSet<_> = s.approvers.iter().filter(|a| **a != v.requester).collect();
            if eligible.is_empty() {
                keys.insert(format!("alert:{r}:no-approvers:{k}"));
            }
            keys.extend(eligible.into_iter().map(|a| format!("card:{r}:{k}:{a}")));
        }
    }
    let expired = v.assignment == Some(AssignmentState::Expired);
    match v.state {
        RequestState::Denied => {
            keys.extend([format!("notify:{r}:denied"), format!("alert:{r}:denied")])
        }
        RequestState::Canceled => _ = keys.insert(format!("notify:{r}:cancelled")),
        RequestState::DeliveryFailed => _ = keys.insert(format!("notify:{r}:delivery-failed")),
        RequestState::Delivered => {
            keys.insert(format!("notify:{r}:delivered"));
            if !expired {
                keys.insert(format!("activate:{r}"));
            }
        }
        _ => {}
    }
    if expired {
        keys.insert(format!("notify:{r}:expired"));
    }
    keys
}

fn stage_ended(v: &RequestView, k: u8) -> bool {
    let Some(s) = v.stages.iter().flatten().nth(usize::from(k) - 1) else {
        return true;
    };
    matches!(s.result, ReviewResult::Approved | ReviewResult::Denied)
        || s.status == StageStatus::Expired
        || !matches!(
            v.state,
            RequestState::PendingApproval | RequestState::Submitted
        )
}

fn oracle(views: &[RequestView], observed: &[usize]) -> BTreeSet<String> {
    let r = rid(1);
    let mut owed = BTreeSet::new();
    let mut newest = 0;
    for &i in observed {
        if i >= newest {
            newest = i;
            owed.extend(view_keys(&views[i]));
        }
    }
    let last = &views[views.len() - 1];
    let carded: BTreeSet<u8> = owed
        .iter()
        .filter_map(|key| {
            key.strip_prefix(&format!("card:{r}:"))?
                .split(':')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    owed.extend(
        carded
            .into_iter()
            .filter(|&k| stage_ended(last, k))
            .map(|k| format!("retire:{r}:{k}")),
    );
    if owed.contains(&format!("activate:{r}")) && last.assignment == Some(AssignmentState::Expired)
    {
        owed.insert(format!("activate-retire:{r}"));
    }
    owed
}

/// Runs the observations, applying `keep(batch_len)` effects of each plan
/// (all of them, or a prefix when modelling a crash), then the final view
/// until nothing is owed. Returns the applied effects in order.
fn run(
    views: &[RequestView],
    decisions: &[(usize, String)],
    observed: &[usize],
    mut keep: impl FnMut(usize) -> usize,
) -> Result<(Vec<Effect>, BTreeSet<String>), TestCaseError> {
    let mut done = BTreeSet::new();
    let mut applied = Vec::new();
    let mut step = |i: usize, done: &mut BTreeSet<String>, keep: &mut dyn FnMut(usize) -> usize| {
        // The engine writes a decision record before Graph can show it.
        done.extend(
            decisions
                .iter()
                .filter(|(from, _)| *from <= i)
                .map(|(_, key)| key.clone()),
        );
        let batch = plan(&views[i], done);
        let n = keep(batch.len());
        for effect in batch.into_iter().take(n) {
            prop_assert!(done.insert(effect.key()), "applied twice: {}", effect.key());
            applied.push(effect);
        }
        Ok(())
    };
    for &i in observed {
        step(i, &mut done, &mut keep)?;
    }
    let last = views.len() - 1;
    for _ in 0..3 {
        step(last, &mut done, &mut |n| n)?;
    }
    prop_assert!(
        plan(&views[last], &done).is_empty(),
        "final view still owes effects"
    );
    Ok((applied, done))
}

/// Invariants that hold however effects were lost or repeated.
fn check_invariants(views: &[RequestView], applied: &[Effect]) -> Result<(), TestCaseError> {
    let last = &views[views.len() - 1];
    let mut retired = BTreeSet::new();
    let mut carded = BTreeSet::new();
    for effect in applied {
        match effect {
            Effect::PostApprovalCard {
                stage, approver, ..
            } => {
                prop_assert_ne!(*approver, last.requester, "card to the requester");
                prop_assert!(
                    !retired.contains(stage),
                    "card for stage {} after it was retired",
                    stage
                );
                prop_assert!(
                    carded.insert((*stage, *approver)),
                    "second card for one approver"
                );
            }
            Effect::RetireStageCards { stage, .. } => _ = retired.insert(*stage),
            _ => {}
        }
    }
    for (stage, _) in &carded {
        if stage_ended(last, *stage) {
            prop_assert!(
                retired.contains(stage),
                "stage {} ended but its cards stay live",
                stage
            );
        }
    }
    Ok(())
}

fn scenario() -> impl Strategy<Value = (Script, Vec<usize>, Vec<usize>)> {
    script().prop_flat_map(|script| {
        let len = history(&script).0.len();
        let observed = prop::collection::vec(0..len, 0..3 * len);
        let crash = prop::collection::vec(0usize..4, 3 * len + 4);
        (Just(script), observed, crash)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn applied_effects_are_exactly_the_owed_ones((script, observed, _) in scenario()) {
        let (views, decisions) = history(&script);
        let (applied, _) = run(&views, &decisions, &observed, |n| n)?;
        check_invariants(&views, &applied)?;

        let mut all_observed = observed.clone();
        all_observed.push(views.len() - 1);
        let applied_keys: BTreeSet<String> = applied.iter().map(Effect::key).collect();
        prop_assert_eq!(&applied_keys, &oracle(&views, &all_observed));

        // Payloads do not depend on which view first owed them: each
        // non-card effect is what the final view would plan for that key.
        let last = &views[views.len() - 1];
        let mut done: BTreeSet<String> = applied_keys.clone();
        done.extend(decisions.iter().map(|(_, key)| key.clone()));
        for effect in &applied {
            let history_bound = matches!(
                effect,
                Effect::PostApprovalCard { .. }
                    | Effect::PromptActivation { .. }
                    | Effect::SecurityAlert { kind: AlertKind::NoApprovers { .. }, .. }
            );
            if history_bound {
                continue;
            }
            let mut without = done.clone();
            without.remove(&effect.key());
            prop_assert!(plan(last, &without).contains(effect), "{:?} is not what the final view owes", effect);
        }
    }

    #[test]
    fn lost_effects_are_replanned_and_invariants_hold((script, observed, crash) in scenario()) {
        let (views, decisions) = history(&script);
        let mut losses = crash.into_iter();
        // Keep a random prefix of each batch: the rest was lost in a crash
        // before it was recorded.
        let (applied, done) = run(&views, &decisions, &observed, |n| n.saturating_sub(losses.next().unwrap_or(0)))?;
        check_invariants(&views, &applied)?;
        let last = &views[views.len() - 1];
        for key in view_keys(last).into_iter().filter(|k| !k.starts_with("card:") && !k.contains("no-approvers")) {
            prop_assert!(done.contains(&key), "final fact {} never applied", key);
        }
    }
}
