//! Builders shared by the domain's tests: deterministic ids and views.

use uuid::Uuid;

use super::approval::{RequestState, RequestView, ReviewResult, StageStatus, StageView};
use super::ids::{AccessPackageId, ObjectId, RequestId, StageId};

/// A user or group id numbered `n` (never nil).
pub(crate) fn oid(n: u8) -> ObjectId {
    ObjectId::from_uuid(Uuid::from_u128(
        0x0b1e_c700_0000_4000_8000_0000_0000_0000 | (u128::from(n) + 1),
    ))
    .expect("not nil")
}

pub(crate) fn rid(n: u8) -> RequestId {
    RequestId::from_uuid(Uuid::from_u128(
        0x5e90_0000_0000_4000_8000_0000_0000_0000 | (u128::from(n) + 1),
    ))
    .expect("not nil")
}

pub(crate) fn sid(n: u8) -> StageId {
    StageId::from_uuid(Uuid::from_u128(
        0x57a6_e000_0000_4000_8000_0000_0000_0000 | (u128::from(n) + 1),
    ))
    .expect("not nil")
}

/// A stage numbered `n` (for its id) with the given approvers, not started.
pub(crate) fn stage(n: u8, approvers: &[u8]) -> StageView {
    StageView {
        id: sid(n),
        status: StageStatus::NotStarted,
        result: ReviewResult::NotReviewed,
        reviewed_by: None,
        justification: String::new(),
        approvers: approvers.iter().map(|&a| oid(a)).collect(),
        escalated: false,
    }
}

/// A request by user 0, pending approval, with the given stages.
pub(crate) fn view(stages: Vec<StageView>) -> RequestView {
    RequestView {
        id: rid(1),
        package: AccessPackageId::from_uuid(Uuid::from_u128(
            0xac0e_5500_0000_4000_8000_0000_0000_0001,
        ))
        .expect("not nil"),
        requester: oid(0),
        state: RequestState::PendingApproval,
        stages: Some(stages),
        assignment: None,
        ticket: Some("INC-1".into()),
        justification: Some("why".into()),
    }
}

/// Marks stage `s` as in progress.
pub(crate) fn start(mut s: StageView) -> StageView {
    s.status = StageStatus::InProgress;
    s
}

/// Marks stage `s` as decided by `by`.
pub(crate) fn decide(mut s: StageView, result: ReviewResult, by: u8, why: &str) -> StageView {
    s.status = StageStatus::Completed;
    s.result = result;
    s.reviewed_by = Some(oid(by));
    s.justification = why.into();
    s
}
