//! The Graph reads behind `discover`: access packages with their catalog
//! and resource roles, each package's policies with their questions, and
//! the directory role each package's group is eligible for. App-only:
//! `EntitlementManagement.Read.All` and `RoleManagement.Read.Directory`,
//! which the bot already needs.

use serde::Deserialize;

use crate::graph::{Auth, GraphClient, GraphError};

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
pub(super) struct Named {
    pub(super) display_name: String,
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Policy {
    pub(super) id: String,
    pub(super) display_name: String,
    #[serde(default)]
    pub(super) request_approval_settings: Option<ApprovalSettings>,
    #[serde(default)]
    pub(super) questions: Vec<Question>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApprovalSettings {
    #[serde(default)]
    pub(super) is_requestor_justification_required: bool,
    #[serde(default)]
    pub(super) stages: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Question {
    #[serde(rename = "@odata.type", default)]
    pub(super) kind: String,
    pub(super) id: String,
    #[serde(default)]
    pub(super) text: String,
    #[serde(default)]
    pub(super) is_required: bool,
    #[serde(default)]
    pub(super) regex_pattern: Option<String>,
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
                    "{EM}/assignmentPolicies?$filter=accessPackage/id eq '{}'&$expand=questions",
                    package.id
                ),
                MAX_PAGES,
            )
            .await?;
        if let Some(group_id) = group_of(package) {
            let held: Vec<Eligibility> = graph
                .get_all(
                    Auth::App,
                    &format!(
                        "/roleManagement/directory/roleEligibilitySchedules?$filter=principalId eq '{group_id}'&$expand=roleDefinition"
                    ),
                    MAX_PAGES,
                )
                .await?;
            let role = held
                .into_iter()
                .find_map(|e| e.role_definition.map(|r| r.display_name));
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
