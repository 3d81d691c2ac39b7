//! The effects the planner owes and their idempotency keys.

use serde::{Deserialize, Serialize};

use crate::approval::RequestState;
use crate::ids::{ObjectId, RequestId, StageId};

/// Something stagegate owes the people involved in a request.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Effect {
    /// Ask `approver` to decide stage `stage` (1-based) of `request`.
    PostApprovalCard {
        request: RequestId,
        stage: u8,
        stage_id: StageId,
        approver: ObjectId,
    },
    /// Update every card of the stage to show how it ended, so no live
    /// button remains.
    RetireStageCards {
        request: RequestId,
        stage: u8,
        outcome: StageOutcome,
    },
    /// Tell the requester what happened.
    NotifyRequester {
        request: RequestId,
        requester: ObjectId,
        event: RequesterEvent,
    },
    /// Offer the requester one-click PIM activation of what was delivered.
    PromptActivation {
        request: RequestId,
        requester: ObjectId,
    },
    /// The assignment expired: turn the activation prompt into a notice.
    RetireActivationPrompt {
        request: RequestId,
        requester: ObjectId,
    },
    /// Post to the security channel.
    SecurityAlert { request: RequestId, kind: AlertKind },
}

/// How a stage ended, as its cards will show it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum StageOutcome {
    Approved {
        by: Option<ObjectId>,
        justification: String,
        via: DecidedVia,
    },
    Denied {
        by: Option<ObjectId>,
        justification: String,
        via: DecidedVia,
    },
    /// `durationBeforeAutomaticDenial` passed with no decision.
    TimedOut,
    /// The requester (or an administrator) cancelled the request.
    Cancelled,
    /// The request left approval some other way (e.g. a custom extension
    /// denied it); the stage was never decided.
    Closed { state: RequestState },
}

/// Where a stage decision was made. Chat decisions are known from the
/// decision record the engine writes (see [`decision_key`]) before relaying;
/// anything else was decided in My Access, email, or by another tool.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DecidedVia {
    Chat,
    OutsideChat,
}

/// What the requester is told.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum RequesterEvent {
    Submitted,
    StagePassed {
        stage: u8,
        by: Option<ObjectId>,
        justification: String,
    },
    Denied {
        denial: Denial,
    },
    Delivered,
    Expired,
    Cancelled,
    DeliveryFailed,
}

/// Which stage denied a request, and how.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Denial {
    /// `None` when the stages could not be read or none explains it.
    pub stage: Option<u8>,
    pub reason: DenialReason,
}

#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum DenialReason {
    ByApprover {
        by: Option<ObjectId>,
        justification: String,
    },
    TimedOut,
    /// Denied without a stage decision (custom extension, administrator).
    Unexplained,
}

/// A security-channel alert the request's state calls for. (Activations and
/// unexplained group memberships are seen by the membership intake, not in
/// a request view.)
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AlertKind {
    Denied {
        denial: Denial,
    },
    /// A stage is waiting on approvers and nobody eligible was resolved, so
    /// it will time out unless someone intervenes.
    NoApprovers {
        stage: u8,
    },
}

impl Effect {
    /// The idempotency key: equal for the same owed effect whatever view it
    /// was planned from, so it can be recorded once and never redone.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::PostApprovalCard {
                request,
                stage,
                approver,
                ..
            } => card_key(request, *stage, approver),
            Self::RetireStageCards { request, stage, .. } => format!("retire:{request}:{stage}"),
            Self::NotifyRequester { request, event, .. } => {
                let what = match event {
                    RequesterEvent::Submitted => "submitted".to_owned(),
                    RequesterEvent::StagePassed { stage, .. } => format!("stage-passed:{stage}"),
                    RequesterEvent::Denied { .. } => "denied".to_owned(),
                    RequesterEvent::Delivered => "delivered".to_owned(),
                    RequesterEvent::Expired => "expired".to_owned(),
                    RequesterEvent::Cancelled => "cancelled".to_owned(),
                    RequesterEvent::DeliveryFailed => "delivery-failed".to_owned(),
                };
                format!("notify:{request}:{what}")
            }
            Self::PromptActivation { request, .. } => format!("activate:{request}"),
            Self::RetireActivationPrompt { request, .. } => format!("activate-retire:{request}"),
            Self::SecurityAlert {
                request,
                kind: AlertKind::Denied { .. },
            } => format!("alert:{request}:denied"),
            Self::SecurityAlert {
                request,
                kind: AlertKind::NoApprovers { stage },
            } => {
                format!("alert:{request}:no-approvers:{stage}")
            }
        }
    }

    #[must_use]
    pub fn request(&self) -> &RequestId {
        match self {
            Self::PostApprovalCard { request, .. }
            | Self::RetireStageCards { request, .. }
            | Self::NotifyRequester { request, .. }
            | Self::PromptActivation { request, .. }
            | Self::RetireActivationPrompt { request, .. }
            | Self::SecurityAlert { request, .. } => request,
        }
    }
}

pub(super) fn card_key(request: &RequestId, stage: u8, approver: &ObjectId) -> String {
    format!("card:{request}:{stage}:{approver}")
}

/// The key the engine records, durably and before relaying, when it accepts
/// `approver`'s click on stage `stage`. Its presence in `done` is how the
/// planner tells a chat decision from one made outside chat; recording it
/// also makes the relay happen at most once.
#[must_use]
pub fn decision_key(request: &RequestId, stage: u8, approver: &ObjectId) -> String {
    format!("decision:{request}:{stage}:{approver}")
}
