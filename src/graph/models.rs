//! Typed Graph v1.0 models for what the engine reads and writes. Names are
//! the CSDL's (`accessPackageAssignmentRequest`, `approvalStage`,
//! `privilegedAccessGroupEligibilityScheduleInstance`, …). Only the
//! properties the engine uses are declared; unknown ones are ignored so a
//! new Graph property never breaks a read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A page of a collection; `@odata.nextLink` is the next page's absolute URL.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// `accessPackageSubject` (only what identifies the person).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageRef {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `entitlementManagementSchedule`, reduced to when it ends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntitlementSchedule {
    #[serde(default)]
    pub start_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expiration: Option<ExpirationPattern>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpirationPattern {
    #[serde(default)]
    pub end_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub duration: Option<String>,
}

/// `accessPackageAssignment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub id: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub schedule: Option<EntitlementSchedule>,
}

impl Assignment {
    #[must_use]
    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.schedule.as_ref()?.expiration.as_ref()?.end_date_time
    }
}

/// `accessPackageAnswerString` (other answer types have no `value` string).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub answered_question: Option<QuestionRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QuestionRef {
    pub id: String,
}

/// `accessPackageAssignmentRequest` with `requestor`, `accessPackage` and
/// `assignment` expanded when asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentRequest {
    pub id: String,
    #[serde(default)]
    pub request_type: Option<String>,
    pub state: String,
    #[serde(default)]
    pub status: Option<String>,
    /// Null in the answer to a create (Graph fills it in later).
    #[serde(default)]
    pub created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub justification: Option<String>,
    #[serde(default)]
    pub answers: Vec<Answer>,
    #[serde(default)]
    pub requestor: Option<Subject>,
    #[serde(default)]
    pub access_package: Option<AccessPackageRef>,
    #[serde(default)]
    pub assignment: Option<Assignment>,
}

impl AssignmentRequest {
    /// The answer given to `question`.
    #[must_use]
    pub fn answer_to(&self, question: &str) -> Option<&str> {
        self.answers
            .iter()
            .find(|a| {
                a.answered_question
                    .as_ref()
                    .is_some_and(|q| q.id.eq_ignore_ascii_case(question))
            })
            .and_then(|a| a.value.as_deref())
    }
}

/// `identity` (reviewedBy).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `approvalStage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStage {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub review_result: Option<String>,
    #[serde(default)]
    pub reviewed_by: Option<Identity>,
    #[serde(default)]
    pub reviewed_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub justification: Option<String>,
    #[serde(default)]
    pub assigned_to_me: Option<bool>,
}

/// `approval` (the approval of a request has the request's id).
#[derive(Debug, Clone, Deserialize)]
pub struct Approval {
    pub id: String,
    #[serde(default)]
    pub stages: Vec<ApprovalStage>,
}

/// `subjectSet` subtypes that can approve.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "@odata.type")]
pub enum SubjectSet {
    #[serde(rename = "#microsoft.graph.singleUser", rename_all = "camelCase")]
    SingleUser { user_id: String },
    #[serde(rename = "#microsoft.graph.groupMembers", rename_all = "camelCase")]
    GroupMembers { group_id: String },
    #[serde(rename = "#microsoft.graph.requestorManager", rename_all = "camelCase")]
    RequestorManager { manager_level: i32 },
    #[serde(rename = "#microsoft.graph.internalSponsors")]
    InternalSponsors,
    #[serde(rename = "#microsoft.graph.externalSponsors")]
    ExternalSponsors,
    #[serde(rename = "#microsoft.graph.targetUserSponsors")]
    TargetUserSponsors,
    /// Any subject set this build does not know (connected organisations,
    /// attribute rule members …): never resolved to a person.
    #[serde(other)]
    Other,
}

/// `accessPackageApprovalStage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStagePolicy {
    #[serde(default)]
    pub duration_before_automatic_denial: Option<String>,
    #[serde(default)]
    pub is_approver_justification_required: bool,
    #[serde(default)]
    pub is_escalation_enabled: bool,
    #[serde(default)]
    pub duration_before_escalation: Option<String>,
    #[serde(default)]
    pub primary_approvers: Vec<SubjectSet>,
    #[serde(default)]
    pub fallback_primary_approvers: Vec<SubjectSet>,
    #[serde(default)]
    pub escalation_approvers: Vec<SubjectSet>,
    #[serde(default)]
    pub fallback_escalation_approvers: Vec<SubjectSet>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSettings {
    #[serde(default)]
    pub is_requestor_justification_required: bool,
    #[serde(default)]
    pub stages: Vec<ApprovalStagePolicy>,
}

/// `accessPackageAssignmentPolicy`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentPolicy {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub request_approval_settings: Option<ApprovalSettings>,
}

impl AssignmentPolicy {
    #[must_use]
    pub fn stages(&self) -> &[ApprovalStagePolicy] {
        self.request_approval_settings
            .as_ref()
            .map_or(&[], |s| s.stages.as_slice())
    }
}

/// `user`, the properties approver resolution and cards need.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
}

/// A `directoryObject` from a membership list; only users carry
/// `#microsoft.graph.user`.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryObject {
    pub id: String,
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
}

impl DirectoryObject {
    #[must_use]
    pub fn is_user(&self) -> bool {
        self.odata_type.as_deref() == Some("#microsoft.graph.user")
    }
}

/// `privilegedAccessGroupEligibilityScheduleInstance` and
/// `privilegedAccessGroupAssignmentScheduleInstance` share these.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupScheduleInstance {
    pub id: String,
    pub group_id: String,
    pub principal_id: String,
    #[serde(default)]
    pub access_id: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub assignment_type: Option<String>,
}

/// `unifiedRoleManagementPolicyRule` subtypes the engine reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "@odata.type")]
pub enum PolicyRule {
    #[serde(
        rename = "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        rename_all = "camelCase"
    )]
    Expiration {
        id: String,
        #[serde(default)]
        maximum_duration: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        rename_all = "camelCase"
    )]
    Enablement {
        id: String,
        #[serde(default)]
        enabled_rules: Vec<String>,
    },
    #[serde(
        rename = "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
        rename_all = "camelCase"
    )]
    AuthenticationContext {
        id: String,
        #[serde(default)]
        is_enabled: bool,
        #[serde(default)]
        claim_value: Option<String>,
    },
    #[serde(other)]
    Other,
}

/// `unifiedRoleManagementPolicy` with `rules` expanded.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleManagementPolicy {
    pub id: String,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
}

/// `unifiedRoleManagementPolicyAssignment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleManagementPolicyAssignment {
    pub policy_id: String,
}

/// `privilegedAccessGroupAssignmentScheduleRequest` as created.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupScheduleRequest {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub target_schedule_id: Option<String>,
}

/// `ticketInfo`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketInfo {
    pub ticket_number: String,
    pub ticket_system: String,
}
