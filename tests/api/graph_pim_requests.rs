//! PIM for Groups requests beyond a plain activation: deactivation,
//! validation-only, scheduled starts, the end of eligibility, admin
//! assignment, and malformed bodies.

use serde_json::json;

use crate::graph_pim_activate::{
    INSTANCES, REQUESTS, activation, is_member, membership_events, rules_failed,
};
use crate::helpers::{grant_assignment, group_id, spawn_sandbox};

#[tokio::test]
async fn self_deactivation_ends_the_activation_and_membership() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let token = sandbox.user_token("alex", true).await;
    let (status, _) = sandbox
        .graph_post(&token, REQUESTS, &activation(&alex, &group, "PT1H"))
        .await;
    assert_eq!(status, 201);
    let (status, again) = sandbox
        .graph_post(&token, REQUESTS, &activation(&alex, &group, "PT1H"))
        .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (400, Some("RoleAssignmentExists"))
    );

    let deactivate = json!({
        "accessId": "member", "principalId": alex, "groupId": group, "action": "selfDeactivate",
    });
    let (status, body) = sandbox.graph_post(&token, REQUESTS, &deactivate).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("Revoked")),
        "{body}"
    );
    assert!(!is_member(&sandbox, &group, &alex));
    assert_eq!(
        membership_events(&sandbox, &group, &alex),
        ["added", "removed"]
    );

    let (status, body) = sandbox.graph_post(&token, REQUESTS, &deactivate).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RoleAssignmentDoesNotExist"))
    );
}

#[tokio::test]
async fn validation_only_checks_without_activating() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let mut body = activation(&alex, &group, "PT1H");
    body["isValidationOnly"] = json!(true);

    let no_mfa = sandbox.user_token("alex", false).await;
    let (status, error) = sandbox.graph_post(&no_mfa, REQUESTS, &body).await;
    assert_eq!(status, 400);
    assert!(rules_failed(&error).contains("MfaRule"));

    let mfa = sandbox.user_token("alex", true).await;
    let (status, checked) = sandbox.graph_post(&mfa, REQUESTS, &body).await;
    assert_eq!(
        (status, checked["isValidationOnly"].as_bool()),
        (201, Some(true)),
        "{checked}"
    );
    assert!(!is_member(&sandbox, &group, &alex));
    let (_, listed) = sandbox
        .graph_get(&mfa, &format!("{REQUESTS}?$filter=principalId eq '{alex}'"))
        .await;
    assert!(listed["value"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_end_of_eligibility_ends_an_activation_based_on_it() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT1H");
    let token = sandbox.user_token("alex", true).await;
    let (status, _) = sandbox
        .graph_post(&token, REQUESTS, &activation(&alex, &group, "PT4H"))
        .await;
    assert_eq!(status, 201);
    sandbox.advance_clock("PT1H1M").await;
    assert!(!is_member(&sandbox, &group, &alex));
    assert!(sandbox.state.world().pim.schedules.is_empty());
}

#[tokio::test]
async fn malformed_requests_get_clear_400s() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    let token = sandbox.user_token("alex", true).await;
    let mut cases = vec![json!({}), json!({ "action": "selfActivate" })];
    for (field, value) in [
        ("action", json!("activateNow")),
        ("accessId", json!("admin")),
        ("status", json!("Provisioned")),
        ("justification", json!(42)),
    ] {
        let mut body = activation(&alex, &group, "PT1H");
        body[field] = value;
        cases.push(body);
    }
    let mut bad_duration = activation(&alex, &group, "four hours");
    bad_duration["scheduleInfo"]["startDateTime"] = json!("yesterday");
    cases.push(bad_duration);
    for body in cases {
        let (status, error) = sandbox.graph_post(&token, REQUESTS, &body).await;
        assert_eq!(status, 400, "{body} → {error}");
        assert_eq!(error["error"]["code"], "BadRequest", "{error}");
    }
    let response = sandbox
        .http
        .post(sandbox.graph(REQUESTS))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_group_owner_can_admin_assign_as_in_the_documented_example() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-helpdeskadmin");
    let (alex, miriam) = (sandbox.persona_id("alex"), sandbox.persona_id("miriam"));
    sandbox
        .state
        .world()
        .groups
        .get_mut(&group)
        .unwrap()
        .owners
        .insert(miriam.clone());
    let body = json!({
        "accessId": "member", "principalId": alex, "groupId": group, "action": "adminAssign",
        "scheduleInfo": {
            "startDateTime": "2022-12-08T07:43:00.000Z",
            "expiration": { "type": "afterDuration", "duration": "PT2H" },
        },
        "justification": "Assign active member access.",
    });
    let bianca = sandbox.user_token("bianca", true).await;
    let (status, _) = sandbox.graph_post(&bianca, REQUESTS, &body).await;
    assert_eq!(status, 403, "not an owner");

    let owner = sandbox.user_token("miriam", true).await;
    let (status, created) = sandbox.graph_post(&owner, REQUESTS, &body).await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("Provisioned")),
        "{created}"
    );
    assert_eq!(created["createdBy"]["user"]["id"], miriam.as_str());
    let (_, instances) = sandbox
        .graph_get(&owner, &format!("{INSTANCES}?$filter=groupId eq '{group}'"))
        .await;
    assert_eq!(instances["value"][0]["assignmentType"], "assigned");
    assert!(is_member(&sandbox, &group, &alex));
}

#[tokio::test]
async fn an_activation_scheduled_for_later_is_granted_then_provisioned_when_it_starts() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let token = sandbox.user_token("alex", true).await;
    let start = sandbox.state.clock.now() + chrono::Duration::hours(1);
    let mut body = activation(&alex, &group, "PT2H");
    body["scheduleInfo"]["startDateTime"] = json!(start.to_rfc3339());

    let (status, created) = sandbox.graph_post(&token, REQUESTS, &body).await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("Granted")),
        "{created}"
    );
    assert!(!is_member(&sandbox, &group, &alex));
    let (_, schedules) = sandbox
        .graph_get(&token, &format!("/identityGovernance/privilegedAccess/group/assignmentSchedules?$filter=principalId eq '{alex}'"))
        .await;
    assert_eq!(
        schedules["value"].as_array().unwrap().len(),
        1,
        "{schedules}"
    );
    let (_, instances) = sandbox
        .graph_get(
            &token,
            &format!("{INSTANCES}?$filter=principalId eq '{alex}'"),
        )
        .await;
    assert!(instances["value"].as_array().unwrap().is_empty());

    sandbox.advance_clock("PT1H1M").await;
    assert!(is_member(&sandbox, &group, &alex));
    let (_, instances) = sandbox
        .graph_get(
            &token,
            &format!("{INSTANCES}?$filter=principalId eq '{alex}'"),
        )
        .await;
    assert_eq!(instances["value"].as_array().unwrap().len(), 1);
    sandbox.advance_clock("PT2H").await;
    assert!(!is_member(&sandbox, &group, &alex));
}
