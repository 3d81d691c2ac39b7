//! The Graph reads behind `discover`: access packages with their catalog
//! and resource roles, each package's policies with their questions, and
//! the directory role each package's group is eligible for. App-only:
//! `EntitlementManagement.Read.All` and `RoleManagement.Read.Directory`,
//! which the bot already needs.

use serde::Deserialize;

use crate::graph::{Auth, GraphClient, GraphError, encode};

const EM: &str = "/identityGovernance/entitlementManagement";
/// A tenant with more packages than this many pages is not one to paste.
const MAX_PAGES: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Package {
    pub(super) id: String,
    pub(super) display_name: String,
    #[serde(default)]
    pub(super) is_hidden: bool,
    #[serde(default)]
    pub(super) catalog: Option<Named>,
    #[serde(default)]
    pub(super) resource_role_scopes: Vec<RoleScope>,
    #[serde(skip)]
    pub(super) policies: Vec<Policy>,
    /// The group this package grants membership of, and the role it holds.
    #[serde(skip)]
    pub(super) group: Option<Group>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Named {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) display_name: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct RoleScope {
    #[serde(default)]
    role: Option<Origin>,
    #[serde(default)]
    scope: Option<Origin>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Origin {
    #[serde(default)]
    origin_system: Option<String>,
    #[serde(default)]
    origin_id: Option<String>,
}

/// An `accessPackageAssignmentPolicy`, as `discover` and `doctor` read it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Policy {
    pub(crate) id: String,
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) request_approval_settings: Option<ApprovalSettings>,
    #[serde(default)]
    pub(crate) questions: Vec<Question>,
    #[serde(default)]
    pub(crate) expiration: Option<Expiration>,
    /// Present when expanded.
    #[serde(default)]
    pub(crate) access_package: Option<Named>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Expiration {
    /// `expirationPatternType`: `notSpecified`, `noExpiration`,
    /// `afterDateTime`, `afterDuration`.
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) duration: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApprovalSettings {
    #[serde(default)]
    pub(crate) is_requestor_justification_required: bool,
    #[serde(default)]
    pub(crate) stages: Vec<Stage>,
}

/// An `accessPackageApprovalStage`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Stage {
    #[serde(default)]
    pub(crate) is_approver_justification_required: bool,
    #[serde(default)]
    pub(crate) primary_approvers: Vec<serde_json::Value>,
    #[serde(default)]
    pub(crate) fallback_primary_approvers: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Question {
    #[serde(rename = "@odata.type", default)]
    pub(crate) kind: String,
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) text: String,
    #[serde(default)]
    pub(crate) is_required: bool,
    #[serde(default)]
    pub(crate) regex_pattern: Option<String>,
}

#[derive(Debug)]
pub(super) struct Group {
    pub(super) id: String,
    pub(super) role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Eligibility {
    #[serde(default)]
    role_definition: Option<Named>,
}

/// The directory roles `group` is eligible for (PIM for Groups: the group is
/// the principal of a role eligibility schedule).
pub(crate) async fn roles_of_group(
    graph: &GraphClient,
    group_id: &str,
) -> Result<Vec<String>, GraphError> {
    let held: Vec<Eligibility> = graph
        .get_all(
            Auth::App,
            &format!(
                "/roleManagement/directory/roleEligibilitySchedules?$filter={}&$expand=roleDefinition",
                encode(&format!("principalId eq '{group_id}'"))
            ),
            MAX_PAGES,
        )
        .await?;
    Ok(held
        .into_iter()
        .filter_map(|e| e.role_definition.map(|r| r.display_name))
        .collect())
}

/// Every access package, with what its block needs.
pub(super) async fn packages(graph: &GraphClient) -> Result<Vec<Package>, GraphError> {
    let mut packages: Vec<Package> = graph
        .get_all(
            Auth::App,
            &format!("{EM}/accessPackages?$expand=catalog,resourceRoleScopes($expand=role,scope)"),
            MAX_PAGES,
        )
        .await?;
    for package in &mut packages {
        package.policies = graph
            .get_all(
                Auth::App,
                // Graph has no `accessPackages/{id}/assignmentPolicies`
                // route: the policies are filtered by their package.
                &format!(
                    "{EM}/assignmentPolicies?$filter={}&$expand=questions",
                    encode(&format!("accessPackage/id eq '{}'", package.id))
                ),
                MAX_PAGES,
            )
            .await?;
        if let Some(group_id) = group_of(package) {
            let role = roles_of_group(graph, &group_id).await?.into_iter().next();
            package.group = Some(Group { id: group_id, role });
        }
    }
    Ok(packages)
}

/// The Entra group among the package's resources (`originSystem` `AadGroup`).
fn group_of(package: &Package) -> Option<String> {
    package.resource_role_scopes.iter().find_map(|s| {
        let scope = s.scope.as_ref()?;
        let from_group = |o: &Origin| o.origin_system.as_deref() == Some("AadGroup");
        (from_group(scope) || s.role.as_ref().is_some_and(from_group))
            .then(|| scope.origin_id.clone())
            .flatten()
    })
}
