//! The emulated tenant's state: directory, entitlement management, PIM.
//!
//! One `World` per sandbox, behind a mutex in [`super::SimState`]; handlers
//! lock it, call [`World::advance_to`] with the emulated clock's now so every
//! deadline that has passed is applied, then read or change it. Types whose
//! shape Graph returns verbatim derive `Serialize` with Graph's names (CSDL).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct World {
    pub tenant_id: String,
    pub domain: String,
    pub app: AppRegistration,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, RoleDefinition>,
    pub catalogs: BTreeMap<String, Catalog>,
    pub access_packages: BTreeMap<String, AccessPackage>,
    pub policies: BTreeMap<String, AssignmentPolicy>,
    pub requests: BTreeMap<String, AssignmentRequest>,
    pub assignments: BTreeMap<String, Assignment>,
    /// Lifecycle events not yet consumed by the callout and change
    /// notification dispatchers (append-only; consumers keep a cursor).
    pub events: Vec<SimEvent>,
    /// When the world was created (emulated time); seeds `createdDateTime`s.
    pub created: DateTime<Utc>,
    /// PIM for Groups schedules, requests and instances.
    pub pim: crate::graph::pim::PimState,
}

#[derive(Debug, Clone)]
pub struct AppRegistration {
    pub client_id: String,
    pub client_secret: String,
    pub display_name: String,
    /// The app's service principal object id (`oid` of app tokens).
    pub service_principal_id: String,
    pub redirect_uris: Vec<String>,
    pub application_permissions: Vec<String>,
    pub delegated_permissions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    /// The persona's short name in the tenant file (`alex`).
    pub key: String,
    pub display_name: String,
    pub given_name: String,
    pub surname: String,
    pub user_principal_name: String,
    pub mail: String,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub account_enabled: bool,
    pub manager_id: Option<String>,
    pub sponsor_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub key: String,
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: String,
    pub is_assignable_to_role: bool,
    /// Direct members: user ids and group ids.
    pub members: BTreeSet<String>,
    pub owners: BTreeSet<String>,
    pub pim: Option<PimGroupSettings>,
    pub created: DateTime<Utc>,
}

/// The PIM for Groups policy of a group's `member` role, as the sandbox
/// models it (rendered as `roleManagementPolicies` rules).
#[derive(Debug, Clone)]
pub struct PimGroupSettings {
    pub maximum_activation: Duration,
    /// Values of `Enablement_EndUser_Assignment.enabledRules`.
    pub enabled_rules: Vec<String>,
    /// `AuthenticationContext_EndUser_Assignment.claimValue` when enabled.
    pub authentication_context: Option<String>,
    /// Role definition ids assigned eligible to the group.
    pub eligible_role_ids: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RoleDefinition {
    pub id: String,
    pub key: String,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub id: String,
    pub key: String,
    pub display_name: String,
    pub description: String,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AccessPackage {
    pub id: String,
    /// The chat alias (`global-admin`); sandbox metadata, not a Graph field.
    pub key: String,
    pub display_name: String,
    pub description: String,
    pub is_hidden: bool,
    pub catalog_id: String,
    /// Group whose membership delivery grants (as PIM eligibility when the
    /// group is PIM-managed).
    pub grants_member_of: Option<String>,
    pub created: DateTime<Utc>,
}

/// `accessPackageAssignmentPolicy`, stored in Graph's own shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentPolicy {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub allowed_target_scope: String,
    pub specific_allowed_targets: Vec<SubjectSet>,
    pub expiration: ExpirationPattern,
    pub requestor_settings: RequestorSettings,
    pub request_approval_settings: ApprovalSettings,
    pub questions: Vec<Question>,
    pub created_date_time: String,
    pub modified_date_time: String,
    #[serde(skip)]
    pub access_package_id: String,
    #[serde(skip)]
    pub catalog_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationPattern {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestorSettings {
    pub enable_targets_to_self_add_access: bool,
    pub enable_targets_to_self_update_access: bool,
    pub enable_targets_to_self_remove_access: bool,
    pub allow_custom_assignment_schedule: bool,
    pub enable_on_behalf_requestors_to_add_access: bool,
    pub enable_on_behalf_requestors_to_update_access: bool,
    pub enable_on_behalf_requestors_to_remove_access: bool,
    pub on_behalf_requestors: Vec<SubjectSet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSettings {
    pub is_approval_required_for_add: bool,
    pub is_approval_required_for_update: bool,
    pub is_requestor_justification_required: bool,
    pub stages: Vec<ApprovalStagePolicy>,
}

/// `accessPackageApprovalStage`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStagePolicy {
    pub duration_before_automatic_denial: String,
    pub is_approver_justification_required: bool,
    pub is_escalation_enabled: bool,
    pub duration_before_escalation: String,
    pub approver_information_visibility: String,
    pub primary_approvers: Vec<SubjectSet>,
    pub fallback_primary_approvers: Vec<SubjectSet>,
    pub escalation_approvers: Vec<SubjectSet>,
    pub fallback_escalation_approvers: Vec<SubjectSet>,
}

/// `subjectSet` and the subtypes approvers can be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", rename_all_fields = "camelCase")]
pub enum SubjectSet {
    #[serde(rename = "#microsoft.graph.singleUser")]
    SingleUser {
        user_id: String,
        #[serde(default)]
        description: Option<String>,
    },
    #[serde(rename = "#microsoft.graph.groupMembers")]
    GroupMembers {
        group_id: String,
        #[serde(default)]
        description: Option<String>,
    },
    #[serde(rename = "#microsoft.graph.requestorManager")]
    RequestorManager { manager_level: i32 },
    #[serde(rename = "#microsoft.graph.internalSponsors")]
    InternalSponsors {},
    #[serde(rename = "#microsoft.graph.externalSponsors")]
    ExternalSponsors {},
    #[serde(rename = "#microsoft.graph.targetUserSponsors")]
    TargetUserSponsors {},
}

/// `accessPackageQuestion` subtypes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "@odata.type", rename_all_fields = "camelCase")]
pub enum Question {
    #[serde(rename = "#microsoft.graph.accessPackageTextInputQuestion")]
    TextInput {
        id: String,
        sequence: i32,
        is_required: bool,
        is_answer_editable: bool,
        text: String,
        localizations: Vec<serde_json::Value>,
        is_single_line_question: bool,
        regex_pattern: Option<String>,
    },
    #[serde(rename = "#microsoft.graph.accessPackageMultipleChoiceQuestion")]
    MultipleChoice {
        id: String,
        sequence: i32,
        is_required: bool,
        is_answer_editable: bool,
        text: String,
        localizations: Vec<serde_json::Value>,
        choices: Vec<serde_json::Value>,
        is_multiple_selection_allowed: bool,
    },
}

impl Question {
    pub fn id(&self) -> &str {
        match self {
            Self::TextInput { id, .. } | Self::MultipleChoice { id, .. } => id,
        }
    }

    pub fn is_required(&self) -> bool {
        match self {
            Self::TextInput { is_required, .. } | Self::MultipleChoice { is_required, .. } => {
                *is_required
            }
        }
    }
}

/// An `accessPackageAssignmentRequest` and its approval, as the emulator
/// tracks them. Rendering to Graph JSON is the handlers' job.
#[derive(Debug, Clone)]
pub struct AssignmentRequest {
    pub id: String,
    /// `accessPackageRequestType` value (`userAdd`, `adminAdd`, …).
    pub request_type: String,
    /// `accessPackageRequestState` value (`submitted`, `pendingApproval`, …).
    pub state: String,
    /// Free-text `status` (`Accepted`, `PendingApproval`, `Delivered`, …).
    pub status: String,
    pub created: DateTime<Utc>,
    pub completed: Option<DateTime<Utc>>,
    pub justification: Option<String>,
    /// Answers in Graph's shape (`accessPackageAnswerString` …).
    pub answers: Vec<serde_json::Value>,
    pub schedule: serde_json::Value,
    pub access_package_id: String,
    pub policy_id: String,
    /// Who submitted it (user id; the app's service principal for app-only).
    pub requestor_id: String,
    /// Whose assignment it is about.
    pub target_id: String,
    pub assignment_id: Option<String>,
    pub stages: Vec<ApprovalStageState>,
    /// When the emulator created it, in real time (for the bench's
    /// latencies; `created` is the emulated clock).
    pub created_at: std::time::Instant,
}

/// One stage of a request's approval (`approvalStage` in Graph).
#[derive(Debug, Clone)]
pub struct ApprovalStageState {
    pub id: String,
    /// `NotStarted` (sandbox-internal), `InProgress`, `Completed`, `Expired`.
    pub status: String,
    pub started: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub escalate_at: Option<DateTime<Utc>>,
    pub escalated: bool,
    /// Resolved when the stage starts: user ids allowed to decide.
    pub approver_ids: Vec<String>,
    /// `NotReviewed`, `Approved`, `Denied`.
    pub review_result: String,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub justification: String,
    /// When the emulator recorded the decision, in real time (for the
    /// bench's latencies; `reviewed_at` is the emulated clock).
    pub decided_at: Option<std::time::Instant>,
}

/// An `accessPackageAssignment`.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: String,
    /// `accessPackageAssignmentState`: `delivering`, `delivered`, `expired`, …
    pub state: String,
    pub status: String,
    pub access_package_id: String,
    pub policy_id: String,
    pub target_id: String,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub expired_at: Option<DateTime<Utc>>,
}

/// Something that happened in the tenant that callouts (custom extensions)
/// or change notifications may report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SimEvent {
    RequestCreated {
        request_id: String,
    },
    RequestApproved {
        request_id: String,
    },
    AssignmentGranted {
        request_id: String,
        assignment_id: String,
    },
    AssignmentRemoved {
        assignment_id: String,
    },
    AssignmentExpiring {
        assignment_id: String,
        days: u32,
    },
    MemberAdded {
        group_id: String,
        member_id: String,
    },
    MemberRemoved {
        group_id: String,
        member_id: String,
    },
}

impl World {
    /// Applies everything due at or before `now` (emulated time): request
    /// lifecycle first, then what delivery and expiry mean for PIM.
    pub fn advance_to(&mut self, now: DateTime<Utc>) {
        self.run_lifecycle(now);
        self.sync_pim(now);
    }

    pub fn user(&self, id_or_upn: &str) -> Option<&User> {
        self.users.get(id_or_upn).or_else(|| {
            self.users
                .values()
                .find(|u| u.user_principal_name.eq_ignore_ascii_case(id_or_upn))
        })
    }

    pub fn user_by_key(&self, key: &str) -> Option<&User> {
        self.users.values().find(|u| u.key == key)
    }

    /// Transitive user members of a group (nested groups expanded).
    pub fn transitive_user_members(&self, group_id: &str) -> BTreeSet<String> {
        let mut users = BTreeSet::new();
        let mut seen = BTreeSet::new();
        let mut stack = vec![group_id.to_owned()];
        while let Some(gid) = stack.pop() {
            if !seen.insert(gid.clone()) {
                continue;
            }
            let Some(group) = self.groups.get(&gid) else {
                continue;
            };
            for member in &group.members {
                if self.users.contains_key(member) {
                    users.insert(member.clone());
                } else if self.groups.contains_key(member) {
                    stack.push(member.clone());
                }
            }
        }
        users
    }

    /// The manager `level` steps up from `user_id` (1 = direct manager).
    pub fn manager_at_level(&self, user_id: &str, level: i32) -> Option<&User> {
        let mut current = self.users.get(user_id)?;
        for _ in 0..level.max(1) {
            current = self.users.get(current.manager_id.as_deref()?)?;
        }
        Some(current)
    }

    /// Adds a direct member, recording the change for notifications.
    pub fn add_member(&mut self, group_id: &str, member_id: &str) -> bool {
        let added = self
            .groups
            .get_mut(group_id)
            .is_some_and(|g| g.members.insert(member_id.to_owned()));
        if added {
            self.events.push(SimEvent::MemberAdded {
                group_id: group_id.to_owned(),
                member_id: member_id.to_owned(),
            });
        }
        added
    }

    /// Removes a direct member, recording the change for notifications.
    pub fn remove_member(&mut self, group_id: &str, member_id: &str) -> bool {
        let removed = self
            .groups
            .get_mut(group_id)
            .is_some_and(|g| g.members.remove(member_id));
        if removed {
            self.events.push(SimEvent::MemberRemoved {
                group_id: group_id.to_owned(),
                member_id: member_id.to_owned(),
            });
        }
        removed
    }
}
