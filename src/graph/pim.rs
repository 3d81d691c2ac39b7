//! PIM for Groups: eligibility and assignment schedule instances, the
//! group's member policy, and `selfActivate` (done by the principal itself
//! with their own token: MFA and authentication-context rules apply to it).

use chrono::Duration;
use serde_json::json;

use super::models::{
    GroupScheduleInstance, GroupScheduleRequest, PolicyRule, RoleManagementPolicy,
    RoleManagementPolicyAssignment, TicketInfo,
};
use super::{Auth, GraphClient, GraphError, encode};
use stagegate_domain::ids::ObjectId;

const BASE: &str = "/identityGovernance/privilegedAccess/group";

fn by_principal_and_group(principal: &ObjectId, group: &ObjectId) -> String {
    encode(&format!(
        "principalId eq '{principal}' and groupId eq '{group}'"
    ))
}

/// Current eligible memberships of `principal` in `group`.
pub async fn eligibility_instances(
    graph: &GraphClient,
    principal: &ObjectId,
    group: &ObjectId,
) -> Result<Vec<GroupScheduleInstance>, GraphError> {
    let path = format!(
        "{BASE}/eligibilityScheduleInstances?$filter={}",
        by_principal_and_group(principal, group)
    );
    graph.get_all(Auth::App, &path, 10).await
}

/// Current active memberships (activations, admin assignments).
pub async fn assignment_instances(
    graph: &GraphClient,
    principal: &ObjectId,
    group: &ObjectId,
) -> Result<Vec<GroupScheduleInstance>, GraphError> {
    let path = format!(
        "{BASE}/assignmentScheduleInstances?$filter={}",
        by_principal_and_group(principal, group)
    );
    graph.get_all(Auth::App, &path, 10).await
}

/// What the group's member policy demands of an activation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationRules {
    pub maximum: Duration,
    pub mfa: bool,
    pub justification: bool,
    pub ticketing: bool,
    /// The authentication context (`c1` …) the activation needs, if any.
    pub auth_context: Option<String>,
}

/// Reads the `member` policy of `group` (the policy assignment names it,
/// then the policy with its rules). The end-user assignment rules are the
/// ones that govern activation (`Expiration_EndUser_Assignment`,
/// `Enablement_EndUser_Assignment`, `AuthenticationContext_EndUser_Assignment`).
pub async fn activation_rules(
    graph: &GraphClient,
    group: &ObjectId,
) -> Result<ActivationRules, GraphError> {
    let filter = encode(&format!(
        "scopeId eq '{group}' and scopeType eq 'Group' and roleDefinitionId eq 'member'"
    ));
    let assignments: Vec<RoleManagementPolicyAssignment> = graph
        .get_all(
            Auth::App,
            &format!("/policies/roleManagementPolicyAssignments?$filter={filter}"),
            5,
        )
        .await?;
    let policy_id = assignments
        .first()
        .map(|a| a.policy_id.clone())
        .ok_or_else(|| GraphError::NotFound {
            code: "NotFound".into(),
            message: format!("no PIM member policy is assigned to group {group}"),
        })?;
    let policy: RoleManagementPolicy = graph
        .get(
            Auth::App,
            &format!("/policies/roleManagementPolicies/{policy_id}?$expand=rules"),
        )
        .await?;
    Ok(rules_of(&policy))
}

fn rules_of(policy: &RoleManagementPolicy) -> ActivationRules {
    let mut out = ActivationRules {
        // PIM's default end-user activation maximum when no rule says.
        maximum: Duration::hours(8),
        mfa: false,
        justification: false,
        ticketing: false,
        auth_context: None,
    };
    for rule in &policy.rules {
        match rule {
            PolicyRule::Expiration {
                id,
                maximum_duration,
            } if id == "Expiration_EndUser_Assignment" => {
                if let Some(max) = maximum_duration
                    .as_deref()
                    .and_then(|d| crate::engine::time::parse_duration(d).ok())
                {
                    out.maximum = max;
                }
            }
            PolicyRule::Enablement { id, enabled_rules }
                if id == "Enablement_EndUser_Assignment" =>
            {
                let has = |r: &str| enabled_rules.iter().any(|e| e == r);
                out.mfa = has("MultiFactorAuthentication");
                out.justification = has("Justification");
                out.ticketing = has("Ticketing");
            }
            PolicyRule::AuthenticationContext {
                id,
                is_enabled,
                claim_value,
            } if id == "AuthenticationContext_EndUser_Assignment" && *is_enabled => {
                out.auth_context = claim_value.clone();
            }
            _ => {}
        }
    }
    out
}

/// `selfActivate` of `principal`'s eligible membership for `duration`.
pub async fn self_activate(
    graph: &GraphClient,
    token: &secrecy::SecretString,
    principal: &ObjectId,
    group: &ObjectId,
    duration: Duration,
    justification: &str,
    ticket: Option<&TicketInfo>,
) -> Result<GroupScheduleRequest, GraphError> {
    let mut body = json!({
        "accessId": "member",
        "principalId": principal.to_string(),
        "groupId": group.to_string(),
        "action": "selfActivate",
        "justification": justification,
        "scheduleInfo": {
            "expiration": {
                "type": "afterDuration",
                "duration": crate::engine::time::format_duration(duration),
            },
        },
    });
    if let Some(ticket) = ticket {
        body["ticketInfo"] = serde_json::to_value(ticket).unwrap_or_default();
    }
    graph
        .post(
            Auth::User(token),
            &format!("{BASE}/assignmentScheduleRequests"),
            &body,
        )
        .await
}
