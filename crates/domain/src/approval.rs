//! An access package assignment request as Graph shows it, and whether a
//! click on an approval card may be relayed.
//!
//! The enums mirror Graph's values: `state` is the CSDL enum
//! `accessPackageRequestState`; an approval stage's `status` and
//! `reviewResult` are free strings in the CSDL (`Edm.String`) whose documented
//! values are `InProgress`/`Initializing`/`Completed`/`Expired` and
//! `NotReviewed`/`Approved`/`Denied`. Values we do not know (including
//! `unknownFutureValue`) are kept as `Other` rather than refused, so a new
//! Graph value degrades to "do nothing" instead of failing the reconcile.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use super::ids::{AccessPackageId, ObjectId, RequestId, StageId, serde_via_str};

#[cfg(test)]
mod tests;

/// Declares a Graph string enum with an `Other(String)` catch-all, parsed
/// case-insensitively (Graph's casing of free-string values is not a
/// contract) and displayed in Graph's spelling.
macro_rules! graph_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Debug, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value this version does not know, verbatim.
            Other(String),
        }

        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl FromStr for $name {
            type Err = Infallible;

            fn from_str(s: &str) -> Result<Self, Infallible> {
                $(if s.eq_ignore_ascii_case($wire) {
                    return Ok(Self::$variant);
                })*
                Ok(Self::Other(s.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        serde_via_str!($name);
    };
}

graph_enum!(
    /// `accessPackageRequestState` (CSDL).
    RequestState {
        Submitted => "submitted",
        PendingApproval => "pendingApproval",
        Delivering => "delivering",
        Delivered => "delivered",
        DeliveryFailed => "deliveryFailed",
        Denied => "denied",
        Scheduled => "scheduled",
        Canceled => "canceled",
        PartiallyDelivered => "partiallyDelivered",
    }
);

graph_enum!(
    /// `approvalStage.status`. `NotStarted` is how the sandbox (and our
    /// model) shows a later stage that has not begun; `Initializing` is
    /// documented by Microsoft for a stage whose approvers are being set up.
    StageStatus {
        NotStarted => "NotStarted",
        Initializing => "Initializing",
        InProgress => "InProgress",
        Completed => "Completed",
        Expired => "Expired",
    }
);

graph_enum!(
    /// `approvalStage.reviewResult` as read (PATCH takes `Approve`/`Deny`).
    ReviewResult {
        NotReviewed => "NotReviewed",
        Approved => "Approved",
        Denied => "Denied",
    }
);

graph_enum!(
    /// `accessPackageAssignmentState` (CSDL) of the request's assignment.
    AssignmentState {
        Delivering => "delivering",
        PartiallyDelivered => "partiallyDelivered",
        Delivered => "delivered",
        Expired => "expired",
        DeliveryFailed => "deliveryFailed",
    }
);

/// An approver's verdict on a stage, spelled as Graph's PATCH of
/// `reviewResult` takes it (and as the store keeps it). Unlike the read-side
/// enums there is no catch-all: stagegate only ever writes these two, so
/// anything else read back is corruption and is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Review {
    Approve,
    Deny,
}

impl Review {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "Approve",
            Self::Deny => "Deny",
        }
    }
}

/// A string that is neither `Approve` nor `Deny`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a review (Approve or Deny)")]
pub struct UnknownReview(pub String);

impl FromStr for Review {
    type Err = UnknownReview;

    fn from_str(s: &str) -> Result<Self, UnknownReview> {
        match s {
            "Approve" => Ok(Self::Approve),
            "Deny" => Ok(Self::Deny),
            other => Err(UnknownReview(super::ids::shown(other))),
        }
    }
}

impl fmt::Display for Review {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

serde_via_str!(Review);

/// Maps an `approvalStage.reviewedBy.id` to a reviewer: Graph reports
/// "`00000000-0000-0000-0000-000000000000` if the assigned reviewer hasn't
/// reviewed" (and `null` in its examples), and neither is a person.
pub fn reviewer_from_graph(id: Option<&str>) -> Result<Option<ObjectId>, super::ids::IdError> {
    match id {
        None | Some("" | "00000000-0000-0000-0000-000000000000") => Ok(None),
        Some(id) => id.parse().map(Some),
    }
}

/// One approval stage. Its number is its position in
/// [`RequestView::stages`] plus one (Graph lists stages in policy order), so
/// the number cannot disagree with the order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StageView {
    pub id: StageId,
    pub status: StageStatus,
    pub result: ReviewResult,
    pub reviewed_by: Option<ObjectId>,
    /// The approver's justification; empty when none was given.
    pub justification: String,
    /// Who may decide this stage, as resolved from the policy and the
    /// directory (see [`super::approvers`]); grows when the stage escalates.
    pub approvers: Vec<ObjectId>,
    pub escalated: bool,
}

impl StageView {
    /// Whether someone may still decide the stage: it is in progress and
    /// nobody has reviewed it.
    #[must_use]
    pub fn is_awaiting_decision(&self) -> bool {
        self.status == StageStatus::InProgress && self.result == ReviewResult::NotReviewed
    }
}

/// A request as read from Graph at one moment.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RequestView {
    pub id: RequestId,
    pub package: AccessPackageId,
    /// The user the assignment is for (for `userAdd`, also who asked).
    pub requester: ObjectId,
    pub state: RequestState,
    /// The approval's stages in order, or `None` when they could not be
    /// read: reading approvals is delegated-only, so this needs a linked
    /// approver's token.
    pub stages: Option<Vec<StageView>>,
    /// The state of the assignment the request created, once there is one.
    pub assignment: Option<AssignmentState>,
    /// The answer to the ticket question, as Graph stored it.
    pub ticket: Option<String>,
    /// The requester's justification, as Graph stored it.
    pub justification: Option<String>,
}

impl RequestView {
    /// Stages with their 1-based numbers. Policies have at most three
    /// stages; a view with more than 255 (only from a broken upstream) is
    /// cut there rather than overflowing the number.
    pub fn numbered_stages(&self) -> impl Iterator<Item = (u8, &StageView)> {
        self.stages
            .iter()
            .flatten()
            .zip(1..=u8::MAX)
            .map(|(stage, n)| (n, stage))
    }

    /// The stage waiting for a decision, if the request is pending one.
    #[must_use]
    pub fn current_stage(&self) -> Option<(u8, &StageView)> {
        if self.state != RequestState::PendingApproval {
            return None;
        }
        self.numbered_stages()
            .find(|(_, s)| s.is_awaiting_decision())
    }
}

/// Why a click on an approval card is not relayed to Graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefusal {
    #[error(
        "The approval stages of this request can't be read right now, so the decision can't be checked. Try again in a moment."
    )]
    ApprovalUnreadable,
    #[error("This card belongs to an approval stage that isn't part of this request.")]
    UnknownStage,
    #[error("You can't decide on your own request.")]
    Requester,
    #[error("{}", already_decided(.result, .by.as_ref()))]
    AlreadyDecided {
        result: ReviewResult,
        by: Option<ObjectId>,
    },
    #[error("This stage timed out before anyone decided.")]
    TimedOut,
    #[error("The request is no longer waiting for approval (it is {state}).")]
    RequestNotPending { state: RequestState },
    #[error("{}", stale(*.current))]
    StaleCard { current: Option<u8> },
    #[error("You are not an approver of this stage.")]
    NotAnApprover,
}

fn already_decided(result: &ReviewResult, by: Option<&ObjectId>) -> String {
    let verb = match result {
        ReviewResult::Approved => "approved",
        ReviewResult::Denied => "denied",
        _ => "decided",
    };
    match by {
        Some(by) => format!("This stage was already {verb} by {by}."),
        None => format!("This stage was already {verb}."),
    }
}

fn stale(current: Option<u8>) -> String {
    match current {
        Some(n) => format!("This card is out of date: the request is now at stage {n}."),
        None => "This card is out of date: the stage is not open for decisions.".to_owned(),
    }
}

/// Decides whether `clicker` (the person the platform authenticated, never
/// an id from the card's payload) may decide stage `stage_id` of the request
/// as `view` shows it. On success returns the stage's number, which keys the
/// durable decision record.
///
/// Graph stays the authority: an `Ok` here is checked again by Graph when
/// the decision is relayed as the approver.
pub fn authorize_decision(
    view: &RequestView,
    clicker: &ObjectId,
    stage_id: &StageId,
) -> Result<u8, DecisionRefusal> {
    if view.stages.is_none() {
        return Err(DecisionRefusal::ApprovalUnreadable);
    }
    let (number, stage) = view
        .numbered_stages()
        .find(|(_, s)| s.id == *stage_id)
        .ok_or(DecisionRefusal::UnknownStage)?;
    if *clicker == view.requester {
        return Err(DecisionRefusal::Requester);
    }
    if matches!(stage.result, ReviewResult::Approved | ReviewResult::Denied) {
        return Err(DecisionRefusal::AlreadyDecided {
            result: stage.result.clone(),
            by: stage.reviewed_by,
        });
    }
    if stage.status == StageStatus::Expired {
        return Err(DecisionRefusal::TimedOut);
    }
    if view.state != RequestState::PendingApproval {
        return Err(DecisionRefusal::RequestNotPending {
            state: view.state.clone(),
        });
    }
    let current = view.current_stage().map(|(n, _)| n);
    if current != Some(number) {
        return Err(DecisionRefusal::StaleCard { current });
    }
    if !stage.approvers.contains(clicker) {
        return Err(DecisionRefusal::NotAnApprover);
    }
    Ok(number)
}
