use super::*;
use crate::testkit::{decide, oid, sid, stage, start, view};

fn two_stage() -> RequestView {
    view(vec![start(stage(1, &[1, 2])), stage(2, &[3])])
}

#[test]
fn graph_values_parse_case_insensitively_and_keep_unknown_ones() {
    assert_eq!("pendingApproval".parse(), Ok(RequestState::PendingApproval));
    assert_eq!("PendingApproval".parse(), Ok(RequestState::PendingApproval));
    assert_eq!(
        "unknownFutureValue".parse(),
        Ok(RequestState::Other("unknownFutureValue".into()))
    );
    assert_eq!("inprogress".parse(), Ok(StageStatus::InProgress));
    assert_eq!(StageStatus::InProgress.to_string(), "InProgress");
    let json = serde_json::to_string(&RequestState::Canceled).expect("ser");
    assert_eq!(json, "\"canceled\"");
    let back: AssignmentState = serde_json::from_str("\"expired\"").expect("de");
    assert_eq!(back, AssignmentState::Expired);
}

#[test]
fn reviewed_by_nil_or_missing_means_nobody() {
    assert_eq!(reviewer_from_graph(None), Ok(None));
    assert_eq!(
        reviewer_from_graph(Some("00000000-0000-0000-0000-000000000000")),
        Ok(None)
    );
    let id = oid(4).to_string();
    assert_eq!(reviewer_from_graph(Some(&id)), Ok(Some(oid(4))));
    assert!(reviewer_from_graph(Some("someone")).is_err());
}

#[test]
fn a_current_stage_approver_may_decide() {
    let v = two_stage();
    assert_eq!(v.current_stage().map(|(n, _)| n), Some(1));
    assert_eq!(authorize_decision(&v, &oid(1), &sid(1)), Ok(1));
    assert_eq!(authorize_decision(&v, &oid(2), &sid(1)), Ok(1));
}

#[test]
fn refusals_are_specific() {
    let v = two_stage();
    assert_eq!(
        authorize_decision(&v, &oid(3), &sid(1)),
        Err(DecisionRefusal::NotAnApprover)
    );
    assert_eq!(
        authorize_decision(&v, &oid(3), &sid(2)),
        Err(DecisionRefusal::StaleCard { current: Some(1) })
    );
    assert_eq!(
        authorize_decision(&v, &oid(1), &sid(9)),
        Err(DecisionRefusal::UnknownStage)
    );

    let mut own = two_stage();
    own.stages.as_mut().expect("stages")[0]
        .approvers
        .push(oid(0));
    assert_eq!(
        authorize_decision(&own, &oid(0), &sid(1)),
        Err(DecisionRefusal::Requester)
    );

    let decided = view(vec![
        decide(stage(1, &[1, 2]), ReviewResult::Approved, 2, "ok"),
        start(stage(2, &[3])),
    ]);
    let err = authorize_decision(&decided, &oid(1), &sid(1)).expect_err("decided");
    assert_eq!(
        err,
        DecisionRefusal::AlreadyDecided {
            result: ReviewResult::Approved,
            by: Some(oid(2))
        }
    );
    assert!(err.to_string().contains(&oid(2).to_string()), "{err}");
    assert_eq!(authorize_decision(&decided, &oid(3), &sid(2)), Ok(2));

    let mut expired = two_stage();
    expired.state = RequestState::Denied;
    expired.stages.as_mut().expect("stages")[0].status = StageStatus::Expired;
    assert_eq!(
        authorize_decision(&expired, &oid(1), &sid(1)),
        Err(DecisionRefusal::TimedOut)
    );

    let mut cancelled = two_stage();
    cancelled.state = RequestState::Canceled;
    assert_eq!(
        authorize_decision(&cancelled, &oid(1), &sid(1)),
        Err(DecisionRefusal::RequestNotPending {
            state: RequestState::Canceled
        })
    );

    let mut unreadable = two_stage();
    unreadable.stages = None;
    assert_eq!(
        authorize_decision(&unreadable, &oid(1), &sid(1)),
        Err(DecisionRefusal::ApprovalUnreadable)
    );
}

#[test]
fn escalation_approvers_are_authorised_once_listed() {
    let mut v = two_stage();
    assert_eq!(
        authorize_decision(&v, &oid(7), &sid(1)),
        Err(DecisionRefusal::NotAnApprover)
    );
    let s = &mut v.stages.as_mut().expect("stages")[0];
    s.escalated = true;
    s.approvers.push(oid(7));
    assert_eq!(authorize_decision(&v, &oid(7), &sid(1)), Ok(1));
}

#[test]
fn absurd_stage_counts_do_not_overflow() {
    let v = view((0..300).map(|_| stage(1, &[1])).collect());
    assert_eq!(v.numbered_stages().count(), 255);
    assert_eq!(v.numbered_stages().last().map(|(n, _)| n), Some(255));
    let _ = crate::planner::plan(&v, &Default::default());
}
