//! The tenant file (`crates/sandbox/src/tenant.toml` is the seeded one) and its
//! conversion into a [`World`]. People, groups and packages refer to each
//! other by `key`; the loader resolves keys to ids and reports the first
//! dangling reference by name.

mod build;
#[cfg(test)]
mod tests;

use serde::Deserialize;

/// The seeded tenant (docs/sandbox.md, "Seeded tenant and personas"),
/// compiled into the binary.
pub const SEED_TENANT: &str = include_str!("../tenant.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub tenant_id: String,
    pub domain: String,
    pub app: AppFile,
    #[serde(default)]
    pub users: Vec<UserFile>,
    #[serde(default)]
    pub roles: Vec<RoleFile>,
    #[serde(default)]
    pub groups: Vec<GroupFile>,
    #[serde(default)]
    pub catalogs: Vec<CatalogFile>,
    #[serde(default)]
    pub access_packages: Vec<AccessPackageFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppFile {
    pub client_id: String,
    pub client_secret: String,
    pub display_name: String,
    #[serde(default)]
    pub service_principal_id: Option<String>,
    pub redirect_uris: Vec<String>,
    pub application_permissions: Vec<String>,
    pub delegated_permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default)]
    pub sponsors: Vec<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Keys of users or groups.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub pim: Option<PimFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PimFile {
    pub maximum_activation: String,
    #[serde(default)]
    pub enabled_rules: Vec<String>,
    #[serde(default)]
    pub authentication_context: Option<String>,
    /// Keys of roles.
    #[serde(default)]
    pub eligible_roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPackageFile {
    pub key: String,
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    pub catalog: String,
    #[serde(default)]
    pub is_hidden: bool,
    #[serde(default)]
    pub grants_member_of: Option<String>,
    pub policies: Vec<PolicyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Keys of groups or users allowed to request; empty = all member users.
    #[serde(default)]
    pub allowed_requestors: Vec<String>,
    /// ISO-8601 duration of the assignment once delivered; none = no expiry.
    #[serde(default)]
    pub assignment_duration: Option<String>,
    #[serde(default)]
    pub requestor_justification_required: bool,
    #[serde(default)]
    pub stages: Vec<StageFile>,
    #[serde(default)]
    pub questions: Vec<QuestionFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    pub approvers: Vec<ApproverFile>,
    #[serde(default)]
    pub fallback_approvers: Vec<ApproverFile>,
    pub decision_time: String,
    #[serde(default)]
    pub approver_justification_required: bool,
    #[serde(default)]
    pub escalation_after: Option<String>,
    #[serde(default)]
    pub escalation_approvers: Vec<ApproverFile>,
    #[serde(default)]
    pub fallback_escalation_approvers: Vec<ApproverFile>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ApproverFile {
    #[serde(rename = "singleUser")]
    SingleUser { user: String },
    #[serde(rename = "groupMembers")]
    GroupMembers { group: String },
    #[serde(rename = "requestorManager")]
    RequestorManager {
        #[serde(default = "one")]
        manager_level: i32,
    },
    #[serde(rename = "internalSponsors")]
    InternalSponsors,
    #[serde(rename = "externalSponsors")]
    ExternalSponsors,
    #[serde(rename = "targetUserSponsors")]
    TargetUserSponsors,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionFile {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub regex: Option<String>,
    /// When set, a multiple-choice question with these choices.
    #[serde(default)]
    pub choices: Vec<String>,
}

fn yes() -> bool {
    true
}

fn one() -> i32 {
    1
}

impl TenantFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("tenant file: {e}"))
    }
}
