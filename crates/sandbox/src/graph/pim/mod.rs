//! Emulated Graph: PIM for Groups
//! (`/identityGovernance/privilegedAccess/group/…`; docs/architecture.md,
//! "PIM for Groups").
//!
//! [`PimState`] holds what PIM knows about groups: eligibility schedules
//! (created by access-package delivery, see [`sync`]), activation requests,
//! and assignment schedules (activations and admin assignments). Handlers
//! render these to Graph's JSON on every read, so a schedule that has ended
//! simply stops being listed.

mod activate;
pub mod policy;
pub(crate) mod read;
pub(crate) mod render;
mod sync;

use std::collections::BTreeMap;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};

use super::auth::{Caller, Permission};
use super::error::{GraphError, GraphResult};
use crate::SimState;
use read::Collection;

/// Where PIM for Groups lives under the Graph root.
pub const BASE: &str = "/identityGovernance/privilegedAccess/group";

/// PIM for Groups state: eligibility schedules, activation requests and
/// assignment schedules.
#[derive(Debug, Clone, Default)]
pub struct PimState {
    /// Eligibility schedules by id (`{groupId}_member_{assignmentId}`).
    pub eligibility: BTreeMap<String, EligibilitySchedule>,
    /// `privilegedAccessGroupAssignmentScheduleRequest`s by id.
    pub requests: BTreeMap<String, ScheduleRequest>,
    /// Current and future assignment schedules (activations and admin
    /// assignments) by id; removed when they end.
    pub schedules: BTreeMap<String, AssignmentSchedule>,
    /// Memberships of groups *not* managed by PIM that delivery granted
    /// directly, by access-package assignment id.
    pub direct_grants: BTreeMap<String, DirectGrant>,
}

/// An eligible membership (or ownership) of a PIM-managed group.
#[derive(Debug, Clone, PartialEq)]
pub struct EligibilitySchedule {
    pub id: String,
    pub instance_id: String,
    pub group_id: String,
    pub principal_id: String,
    /// `privilegedAccessGroupRelationships`: `member` or `owner`.
    pub access_id: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    /// The access-package assignment whose delivery created it.
    pub source_assignment_id: String,
}

/// An active membership or ownership: an activation (`activated`) or an
/// admin assignment (`assigned`).
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentSchedule {
    /// `{groupId}_{accessId}_{requestId}`, the request's `targetScheduleId`.
    pub id: String,
    pub instance_id: String,
    pub request_id: String,
    pub group_id: String,
    pub principal_id: String,
    pub access_id: String,
    /// `privilegedAccessGroupAssignmentType`: `activated` or `assigned`.
    pub assignment_type: &'static str,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    /// The eligibility schedule an activation is based on.
    pub activated_using: Option<String>,
    /// Whether the principal has been put into the group for it yet (a
    /// schedule starting in the future is provisioned when it starts).
    pub provisioned: bool,
}

/// A `privilegedAccessGroupAssignmentScheduleRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRequest {
    pub id: String,
    pub action: String,
    pub status: String,
    pub created: DateTime<Utc>,
    pub completed: Option<DateTime<Utc>>,
    pub created_by: CreatedBy,
    pub principal_id: String,
    pub group_id: String,
    pub access_id: String,
    pub justification: Option<String>,
    pub ticket_number: Option<String>,
    pub ticket_system: Option<String>,
    pub custom_data: Option<String>,
    pub is_validation_only: bool,
    pub schedule: Option<RequestedSchedule>,
    pub target_schedule_id: Option<String>,
}

/// Who created a request (`createdBy` identitySet).
#[derive(Debug, Clone, PartialEq)]
pub enum CreatedBy {
    User(String),
    Application(String),
}

/// A request's `scheduleInfo`, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestedSchedule {
    pub start: DateTime<Utc>,
    /// `expirationPatternType` member name (`afterDuration`, …).
    pub expiration_type: String,
    pub duration: Option<String>,
    pub end: Option<DateTime<Utc>>,
}

/// A direct membership granted by delivery of a package for a non-PIM group.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectGrant {
    pub group_id: String,
    pub principal_id: String,
    /// False when the principal was already a member: then the grant must
    /// not remove a membership it did not create.
    pub added: bool,
}

/// Reading eligibility (list/get/filterByCurrentUser) — docs/architecture.md,
/// "Graph permissions"; the `PrivilegedAccess.*` permissions are the older,
/// broader ones the docs list as higher-privileged.
pub const ELIGIBILITY_READ: Permission = Permission {
    delegated: &[
        "PrivilegedEligibilitySchedule.Read.AzureADGroup",
        "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
        "PrivilegedAccess.Read.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ],
    application: Some(&[
        "PrivilegedEligibilitySchedule.Read.AzureADGroup",
        "PrivilegedEligibilitySchedule.ReadWrite.AzureADGroup",
        "PrivilegedAccess.Read.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ]),
};

/// Reading assignment schedules, instances and requests.
pub const ASSIGNMENT_READ: Permission = Permission {
    delegated: &[
        "PrivilegedAssignmentSchedule.Read.AzureADGroup",
        "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
        "PrivilegedAccess.Read.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ],
    application: Some(&[
        "PrivilegedAssignmentSchedule.Read.AzureADGroup",
        "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
        "PrivilegedAccess.Read.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ]),
};

/// Creating assignment schedule requests (docs/architecture.md, "Graph
/// permissions": ReadWrite, and `…Remove.AzureADGroup` which only covers
/// removals).
pub const ASSIGNMENT_WRITE: Permission = Permission {
    delegated: &[
        "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
        "PrivilegedAssignmentSchedule.Remove.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ],
    application: Some(&[
        "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup",
        "PrivilegedAssignmentSchedule.Remove.AzureADGroup",
        "PrivilegedAccess.ReadWrite.AzureADGroup",
    ]),
};

/// Enforces `permission` with the 403 the PIM for Groups service itself
/// gives: code `UnknownError` with the service's own error JSON as the
/// message (seen in hashicorp/terraform-provider-azuread#1386:
/// `{"errorCode":"PermissionScopeNotGranted","message":"Authorization failed
/// due to missing permission scope …","instanceAnnotations":[]}`).
pub fn require(caller: &Caller, permission: &Permission) -> GraphResult<()> {
    caller.require(permission).map_err(|e| {
        if e.status != StatusCode::FORBIDDEN {
            return e;
        }
        let accepted = if caller.is_app() {
            permission.application.unwrap_or_default()
        } else {
            permission.delegated
        };
        GraphError::new(
            StatusCode::FORBIDDEN,
            "UnknownError",
            format!(
                "{{\"errorCode\":\"PermissionScopeNotGranted\",\"message\":\"Authorization failed due to missing permission scope {}.\",\"instanceAnnotations\":[]}}",
                accepted.join(",")
            ),
        )
    })
}

pub fn routes() -> Router<SimState> {
    let mut router = Router::new();
    for collection in Collection::ALL {
        let list_path = format!("{BASE}/{}", collection.segment());
        let item_path = format!("{list_path}/{{key}}");
        let list = get(move |s, c, q| read::list(s, c, q, collection));
        let list = if collection == Collection::Requests {
            list.post(activate::create)
        } else {
            list
        };
        router = router.route(&list_path, list).route(
            &item_path,
            get(move |s, c, p, q| read::item(s, c, p, q, collection)),
        );
    }
    router
}
