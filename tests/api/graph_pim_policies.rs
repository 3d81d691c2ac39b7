//! PIM policies of groups (`/policies/roleManagementPolicies…`) and the
//! Entra roles eligible to those groups (`/roleManagement/directory/…`).

use serde_json::Value;

use crate::helpers::{group_id, spawn_sandbox};

const POLICIES: &str = "/policies/roleManagementPolicies";

fn rule<'a>(policy: &'a Value, id: &str) -> &'a Value {
    policy["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no rule {id} in {policy}"))
}

const RULE_IDS: [&str; 17] = [
    "Enablement_Admin_Eligibility",
    "Expiration_Admin_Eligibility",
    "Notification_Requestor_Admin_Eligibility",
    "Notification_Approver_Admin_Eligibility",
    "Notification_Admin_Admin_Eligibility",
    "Enablement_Admin_Assignment",
    "Expiration_Admin_Assignment",
    "Notification_Admin_Admin_Assignment",
    "Notification_Requestor_Admin_Assignment",
    "Notification_Approver_Admin_Assignment",
    "Approval_EndUser_Assignment",
    "AuthenticationContext_EndUser_Assignment",
    "Enablement_EndUser_Assignment",
    "Expiration_EndUser_Assignment",
    "Notification_Admin_EndUser_Assignment",
    "Notification_Requestor_EndUser_Assignment",
    "Notification_Approver_EndUser_Assignment",
];

#[tokio::test]
async fn group_policies_carry_the_tenant_activation_rules() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.user_token("alex", false).await;
    let global = group_id(&sandbox, "grp-elig-globaladmin");
    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!(
                "{POLICIES}?$filter=scopeId eq '{global}' and scopeType eq 'Group'&$expand=rules"
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let policies = body["value"].as_array().unwrap();
    assert_eq!(policies.len(), 2, "a member and an owner policy");
    for policy in policies {
        assert!(
            policy["id"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Group_{global}_"))
        );
        assert_eq!(policy["scopeType"], "Group");
        assert_eq!(policy["rules"].as_array().unwrap().len(), 17);
    }
    let member = &policies[0];
    let expiration = rule(member, "Expiration_EndUser_Assignment");
    assert_eq!(
        expiration["@odata.type"],
        "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule"
    );
    assert_eq!(expiration["maximumDuration"], "PT4H");
    assert_eq!(expiration["isExpirationRequired"], true);
    assert_eq!(expiration["target"]["caller"], "EndUser");
    assert_eq!(expiration["target"]["level"], "Assignment");
    assert_eq!(
        rule(member, "Enablement_EndUser_Assignment")["enabledRules"],
        serde_json::json!(["MultiFactorAuthentication", "Justification"])
    );
    let context = rule(member, "AuthenticationContext_EndUser_Assignment");
    assert_eq!(
        (context["isEnabled"].as_bool(), &context["claimValue"]),
        (Some(false), &Value::Null)
    );

    let privileged = group_id(&sandbox, "grp-elig-privroleadmin");
    let (_, body) = sandbox
        .graph_get(&token, &format!("{POLICIES}?$filter=scopeId eq '{privileged}' and scopeType eq 'Group'&$expand=rules"))
        .await;
    let member = &body["value"][0];
    let context = rule(member, "AuthenticationContext_EndUser_Assignment");
    assert_eq!(
        (
            context["isEnabled"].as_bool(),
            context["claimValue"].as_str()
        ),
        (Some(true), Some("c1"))
    );
    assert_eq!(
        rule(member, "Expiration_EndUser_Assignment")["maximumDuration"],
        "PT2H"
    );
    assert_eq!(
        rule(member, "Enablement_EndUser_Assignment")["enabledRules"],
        serde_json::json!(["Justification", "Ticketing"])
    );
}

#[tokio::test]
async fn rules_with_select_replay_the_documented_example_3() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let group = group_id(&sandbox, "grp-elig-helpdeskadmin");
    let (status, body) = sandbox
        .graph_get(&app, &format!("{POLICIES}?$filter=scopeId eq '{group}' and scopeType eq 'Group'&$expand=rules($select=id)"))
        .await;
    assert_eq!(status, 200, "{body}");
    let policy = &body["value"][0];
    for key in [
        "displayName",
        "description",
        "isOrganizationDefault",
        "scopeId",
        "lastModifiedBy",
    ] {
        assert!(policy.get(key).is_some(), "{key} missing");
    }
    let rules = policy["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, RULE_IDS);
    for r in rules {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "only @odata.type and id: {r}");
    }

    // The policy, one rule, and the policy assignment by role.
    let id = policy["id"].as_str().unwrap();
    let (status, one) = sandbox
        .graph_get(&app, &format!("{POLICIES}/{id}?$expand=rules"))
        .await;
    assert_eq!(
        (status, one["rules"].as_array().map(Vec::len)),
        (200, Some(17))
    );
    let (status, got) = sandbox
        .graph_get(
            &app,
            &format!("{POLICIES}/{id}/rules/Expiration_EndUser_Assignment"),
        )
        .await;
    assert_eq!(
        (status, got["maximumDuration"].as_str()),
        (200, Some("PT8H"))
    );
    let (status, assignments) = sandbox
        .graph_get(
            &app,
            &format!("/policies/roleManagementPolicyAssignments?$filter=scopeId eq '{group}' and scopeType eq 'Group' and roleDefinitionId eq 'member'&$expand=policy($expand=rules)"),
        )
        .await;
    assert_eq!(status, 200, "{assignments}");
    let assignments = assignments["value"].as_array().unwrap();
    assert_eq!(assignments.len(), 1);
    assert_eq!(assignments[0]["policyId"], policy["id"]);
    assert_eq!(
        assignments[0]["policy"]["rules"].as_array().unwrap().len(),
        17
    );
}

#[tokio::test]
async fn policy_lists_require_a_group_scope_filter() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    for query in [
        "",
        "?$filter=scopeType eq 'Group'",
        "?$filter=scopeId eq '/' and scopeType eq 'Tenant'",
    ] {
        for set in ["roleManagementPolicies", "roleManagementPolicyAssignments"] {
            let (status, body) = sandbox
                .graph_get(&app, &format!("/policies/{set}{query}"))
                .await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some("BadRequest")),
                "{set}{query}"
            );
        }
    }
    let token = sandbox.user_token_with("alex", &["User.Read"]).await;
    let (status, _) = sandbox
        .graph_get(
            &token,
            &format!("{POLICIES}?$filter=scopeId eq 'x' and scopeType eq 'Group'"),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn each_pim_group_is_eligible_for_its_role() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let global_admin = "62e90394-69f5-4237-9190-012177145e10";
    let (status, body) = sandbox
        .graph_get(
            &app,
            &format!("/roleManagement/directory/roleEligibilitySchedules?$filter=principalId eq '{group}'&$expand=roleDefinition,principal"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let items = body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let schedule = &items[0];
    assert_eq!(schedule["roleDefinitionId"], global_admin);
    assert_eq!(schedule["directoryScopeId"], "/");
    assert_eq!(schedule["memberType"], "Direct");
    assert_eq!(schedule["status"], "Provisioned");
    assert_eq!(
        schedule["scheduleInfo"]["expiration"]["type"],
        "noExpiration"
    );
    assert_eq!(
        schedule["roleDefinition"]["displayName"],
        "Global Administrator"
    );
    assert_eq!(
        schedule["principal"]["@odata.type"],
        "#microsoft.graph.group"
    );
    assert_eq!(schedule["principal"]["displayName"], "GRP-ELIG-GlobalAdmin");

    let (_, all) = sandbox
        .graph_get(&app, "/roleManagement/directory/roleEligibilitySchedules")
        .await;
    assert_eq!(
        all["value"].as_array().unwrap().len(),
        3,
        "one per PIM group"
    );
    let (_, instances) = sandbox
        .graph_get(&app, &format!("/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId eq '{group}'"))
        .await;
    assert_eq!(
        instances["value"][0]["roleEligibilityScheduleId"],
        schedule["id"]
    );
    let (status, role) = sandbox
        .graph_get(
            &app,
            &format!("/roleManagement/directory/roleDefinitions/{global_admin}"),
        )
        .await;
    assert_eq!(
        (status, role["displayName"].as_str()),
        (200, Some("Global Administrator"))
    );

    // Delegated callers need a role-management scope the app's users lack.
    let token = sandbox.user_token("alex", true).await;
    let (status, _) = sandbox
        .graph_get(&token, "/roleManagement/directory/roleEligibilitySchedules")
        .await;
    assert_eq!(status, 403);
}
