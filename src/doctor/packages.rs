//! The checks of one configured package: the configuration mistakes that
//! break this design (a package that outlives its eligibility, an activation
//! longer than the assignment, a group that is not role-assignable, a single
//! approver, no justification, no expiry).

use serde::Deserialize;
use stagegate_domain::ids::ObjectId;
use stagegate_domain::time::parse_iso_duration;

use super::report::{Finding, Report, Severity};
use crate::config::PackageSettings;
use crate::discover::read::{Policy, Stage, roles_of_group};
use crate::graph::{Auth, GraphClient, GraphError, directory, pim};

const EM: &str = "/identityGovernance/entitlementManagement";
const PORTAL_POLICY: &str =
    "Entra portal → Identity Governance → Access packages → the package → Policies → the policy";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupFacts {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    is_assignable_to_role: Option<bool>,
    #[serde(default)]
    group_types: Vec<String>,
}

/// Checks `package`, adding what it finds to `report`. Errors are the
/// Graph failures that stop the check (credentials, permissions).
pub(super) async fn check(
    graph: &GraphClient,
    package: &PackageSettings,
    report: &mut Report,
) -> Result<(), GraphError> {
    let alias = package.alias.as_str();
    let mut found = |code, severity, seen: String, fix: &str| {
        report.push(Finding::new(code, severity, alias, &seen, fix));
    };
    let policy: Option<Policy> = match graph
        .get(
            Auth::App,
            &format!(
                "{EM}/assignmentPolicies/{}?$expand=questions,accessPackage",
                package.policy_id
            ),
        )
        .await
    {
        Ok(policy) => Some(policy),
        Err(GraphError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let Some(policy) = policy else {
        found(
            "policy-not-found",
            Severity::Error,
            format!("there is no assignment policy {}", package.policy_id),
            "run `stagegate discover --package` for this package and paste its policy_id",
        );
        return Ok(());
    };
    if let Some(owner) = &policy.access_package
        && owner.id != package.access_package_id
    {
        found(
            "policy-of-another-package",
            Severity::Error,
            format!(
                "policy \"{}\" belongs to access package \"{}\", not to {}",
                policy.display_name, owner.display_name, package.access_package_id
            ),
            "use the policy of this package (`stagegate discover --package`)",
        );
    }
    match policy
        .questions
        .iter()
        .find(|q| q.id == package.ticket_question_id)
    {
        None => found(
            "ticket-question-not-found",
            Severity::Error,
            format!(
                "policy \"{}\" has no question {}",
                policy.display_name, package.ticket_question_id
            ),
            "use the id of the policy's ticket question (`stagegate discover --package`)",
        ),
        Some(q) if !q.is_required => found(
            "ticket-question-optional",
            Severity::Warning,
            format!("the ticket question \"{}\" is optional", q.text),
            &format!("{PORTAL_POLICY} → Requestor information: make the question required"),
        ),
        Some(_) => {}
    }
    check_approval(graph, &policy, &mut found).await?;
    let assignment = match policy.expiration.as_ref().map(|e| (e.kind.as_str(), e)) {
        Some(("afterDuration", e)) => e
            .duration
            .as_deref()
            .and_then(|d| parse_iso_duration(d).ok()),
        Some(("afterDateTime", _)) => None,
        _ => {
            found(
                "assignment-never-expires",
                Severity::Error,
                format!(
                    "assignments of policy \"{}\" never expire",
                    policy.display_name
                ),
                &format!(
                    "{PORTAL_POLICY} → Lifecycle: make assignments expire after a number of hours"
                ),
            );
            None
        }
    };
    check_group(graph, package, assignment, &mut found).await
}

async fn check_approval(
    graph: &GraphClient,
    policy: &Policy,
    found: &mut impl FnMut(&'static str, Severity, String, &str),
) -> Result<(), GraphError> {
    let settings = policy.request_approval_settings.as_ref();
    let stages: &[Stage] = settings.map_or(&[], |s| s.stages.as_slice());
    if stages.is_empty() {
        found(
            "no-approval",
            Severity::Error,
            format!(
                "policy \"{}\" grants access without approval",
                policy.display_name
            ),
            &format!("{PORTAL_POLICY} → Requests: require approval, in 1 to 3 stages"),
        );
    }
    if !settings.is_some_and(|s| s.is_requestor_justification_required) {
        found(
            "requestor-justification-off",
            Severity::Warning,
            "requestors need not say why".into(),
            &format!("{PORTAL_POLICY} → Requests: require requestor justification"),
        );
    }
    for (n, stage) in stages.iter().enumerate() {
        let approvers = count_approvers(graph, stage, n + 1, found).await?;
        if approvers < 2 {
            found(
                "single-approver",
                Severity::Warning,
                format!("stage {} has {approvers} approver(s) and no backup", n + 1),
                &format!(
                    "{PORTAL_POLICY} → Requests: add a second or a fallback approver to stage {}",
                    n + 1
                ),
            );
        }
        if !stage.is_approver_justification_required {
            found(
                "approver-justification-off",
                Severity::Warning,
                format!("stage {}'s approvers need not say why", n + 1),
                &format!(
                    "{PORTAL_POLICY} → Requests: require approver justification in stage {}",
                    n + 1
                ),
            );
        }
    }
    Ok(())
}

/// How many people can decide a stage: each enabled user and each manager
/// counts once, a group counts its users. A named user who does not exist
/// or cannot sign in is said, and not counted.
async fn count_approvers(
    graph: &GraphClient,
    stage: &Stage,
    number: usize,
    found: &mut impl FnMut(&'static str, Severity, String, &str),
) -> Result<usize, GraphError> {
    let mut count = 0;
    for subject in stage
        .primary_approvers
        .iter()
        .chain(&stage.fallback_primary_approvers)
    {
        let kind = subject["@odata.type"].as_str().unwrap_or_default();
        let id = |key: &str| {
            subject[key]
                .as_str()
                .and_then(|g| g.parse::<ObjectId>().ok())
        };
        count += match kind {
            "#microsoft.graph.groupMembers" => match id("groupId") {
                Some(group) => directory::transitive_user_members(graph, &group)
                    .await?
                    .map_or(0, |m| m.len()),
                None => 0,
            },
            "#microsoft.graph.singleUser" => match id("userId") {
                Some(user) => match directory::user(graph, &user).await? {
                    Some(u) if u.account_enabled != Some(false) => 1,
                    Some(u) => {
                        found(
                            "approver-disabled",
                            Severity::Warning,
                            format!(
                                "stage {number}'s approver {} cannot sign in: the account is disabled",
                                u.display_name.as_deref().unwrap_or(&u.id)
                            ),
                            &format!(
                                "{PORTAL_POLICY} → Requests: replace the approver in stage {number}"
                            ),
                        );
                        0
                    }
                    None => {
                        found(
                            "approver-not-found",
                            Severity::Error,
                            format!("stage {number}'s approver {user} is not in the directory"),
                            &format!(
                                "{PORTAL_POLICY} → Requests: choose an existing approver for stage {number}"
                            ),
                        );
                        0
                    }
                },
                None => 0,
            },
            _ => 1,
        };
    }
    Ok(count)
}

async fn check_group(
    graph: &GraphClient,
    package: &PackageSettings,
    assignment: Option<chrono::Duration>,
    found: &mut impl FnMut(&'static str, Severity, String, &str),
) -> Result<(), GraphError> {
    let group: GroupFacts = match graph
        .get(
            Auth::App,
            &format!(
                "/groups/{}?$select=displayName,isAssignableToRole,groupTypes",
                package.group_id
            ),
        )
        .await
    {
        Ok(group) => group,
        Err(GraphError::NotFound { .. }) => {
            found(
                "group-not-found",
                Severity::Error,
                format!("there is no group {}", package.group_id),
                "use the group the package grants (`stagegate discover --package`)",
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let name = &group.display_name;
    if group.is_assignable_to_role != Some(true) {
        found(
            "group-not-role-assignable",
            Severity::Error,
            format!(
                "group \"{name}\" is not role-assignable, so anyone who manages groups can add members"
            ),
            "create a group with \"Microsoft Entra roles can be assigned to the group\" on (it cannot be changed later) and grant that one",
        );
    }
    if group.group_types.iter().any(|t| t == "DynamicMembership") {
        found(
            "group-dynamic",
            Severity::Error,
            format!(
                "group \"{name}\" has dynamic membership: its rule, not the approvals, decides who is in it"
            ),
            "use an assigned (not dynamic) group",
        );
    }
    let roles = roles_of_group(graph, &package.group_id).await?;
    if let Some(role) = &package.role
        && !roles.contains(role)
    {
        found(
            "role-not-held",
            Severity::Warning,
            format!(
                "group \"{name}\" is not eligible for {role} (it is for: {})",
                list(&roles)
            ),
            "correct `role`, or make the group eligible for the role in PIM (Roles and administrators → the role → Add assignments)",
        );
    }
    if roles.len() > 1 {
        found(
            "group-holds-several-roles",
            Severity::Warning,
            format!(
                "group \"{name}\" is eligible for {}: one approval grants all of them",
                list(&roles)
            ),
            "give each role its own group and access package",
        );
    }
    let group_id: ObjectId = match package.group_id.parse() {
        Ok(id) => id,
        Err(_) => return Ok(()),
    };
    let rules = match pim::activation_rules(graph, &group_id).await {
        Ok(rules) => rules,
        Err(GraphError::NotFound { .. }) => {
            found(
                "group-not-pim-managed",
                Severity::Error,
                format!(
                    "group \"{name}\" has no PIM member policy: membership is permanent, not activated"
                ),
                "bring the group under PIM (Privileged Identity Management → Groups → Discover groups)",
            );
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if let Some(assignment) = assignment
        && rules.maximum > assignment
    {
        found(
            "activation-longer-than-assignment",
            Severity::Error,
            format!(
                "an activation may last {} h, the package assignment only {} h",
                rules.maximum.num_hours(),
                assignment.num_hours()
            ),
            "shorten the activation maximum (PIM → Groups → the group → Settings → Member) below the package's expiry",
        );
    }
    if !rules.mfa && rules.auth_context.is_none() {
        found(
            "activation-without-mfa",
            Severity::Warning,
            format!(
                "activating membership of \"{name}\" needs neither MFA nor an authentication context"
            ),
            "PIM → Groups → the group → Settings → Member: require Azure MFA or an authentication context on activation",
        );
    }
    if !rules.justification {
        found(
            "activation-without-justification",
            Severity::Warning,
            format!("activating membership of \"{name}\" needs no justification"),
            "PIM → Groups → the group → Settings → Member: require justification on activation",
        );
    }
    Ok(())
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "no role".into()
    } else {
        items.join(", ")
    }
}
