//! PIM for Groups activation: `selfActivate` / `selfDeactivate` /
//! `adminAssign` through assignmentScheduleRequests, with the group policy
//! enforced, and the membership it gives and takes away.

use serde_json::{Value, json};
use stagegate::sandbox::world::SimEvent;

use crate::helpers::{TestSandbox, grant_assignment, group_id, spawn_sandbox};

const REQUESTS: &str = "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests";
const INSTANCES: &str = "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances";

fn activation(principal: &str, group: &str, duration: &str) -> Value {
    json!({
        "accessId": "member",
        "principalId": principal,
        "groupId": group,
        "action": "selfActivate",
        "scheduleInfo": {
            "startDateTime": "2023-02-08T07:43:00.000Z",
            "expiration": { "type": "afterDuration", "duration": duration },
        },
        "justification": "Activate assignment.",
    })
}

fn rules_failed(body: &Value) -> &str {
    assert_eq!(
        body["error"]["code"], "RoleAssignmentRequestPolicyValidationFailed",
        "{body}"
    );
    body["error"]["message"].as_str().unwrap()
}

fn is_member(sandbox: &TestSandbox, group: &str, user: &str) -> bool {
    sandbox.state.world().groups[group].members.contains(user)
}

fn membership_events(sandbox: &TestSandbox, group: &str, user: &str) -> Vec<&'static str> {
    sandbox
        .state
        .world()
        .events
        .iter()
        .filter_map(|e| match e {
            SimEvent::MemberAdded {
                group_id,
                member_id,
            } if group_id == group && member_id == user => Some("added"),
            SimEvent::MemberRemoved {
                group_id,
                member_id,
            } if group_id == group && member_id == user => Some("removed"),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn self_activation_replays_the_documented_example_and_ends_on_time() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let token = sandbox.user_token("alex", true).await;

    let (status, body) = sandbox
        .graph_post(&token, REQUESTS, &activation(&alex, &group, "PT4H"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "Provisioned");
    assert_eq!(body["action"], "selfActivate");
    assert_eq!(body["isValidationOnly"], false);
    assert_eq!(body["createdBy"]["user"]["id"], alex.as_str());
    assert_eq!(body["scheduleInfo"]["expiration"]["duration"], "PT4H");
    assert_eq!(
        body["ticketInfo"],
        json!({ "ticketNumber": null, "ticketSystem": null })
    );
    let request_id = body["id"].as_str().unwrap();
    assert_eq!(
        body["targetScheduleId"],
        format!("{group}_member_{request_id}")
    );
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("assignmentScheduleRequests/$entity")
    );

    // Active now: an instance, and membership with its notification event.
    let (_, instances) = sandbox
        .graph_get(
            &token,
            &format!("{INSTANCES}?$filter=principalId eq '{alex}'"),
        )
        .await;
    let instances = instances["value"].as_array().unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0]["assignmentType"], "activated");
    assert_eq!(instances[0]["memberType"], "direct");
    assert_eq!(
        instances[0]["assignmentScheduleId"],
        body["targetScheduleId"]
    );
    assert!(is_member(&sandbox, &group, &alex));
    assert_eq!(membership_events(&sandbox, &group, &alex), ["added"]);

    // The request is listed, gettable, and the caller's own.
    let (_, listed) = sandbox
        .graph_get(&token, &format!("{REQUESTS}?$filter=groupId eq '{group}'"))
        .await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    let (status, got) = sandbox
        .graph_get(&token, &format!("{REQUESTS}/{request_id}"))
        .await;
    assert_eq!((status, &got["id"]), (200, &body["id"]));
    let (_, mine) = sandbox
        .graph_get(
            &token,
            &format!("{REQUESTS}/filterByCurrentUser(on='createdBy')"),
        )
        .await;
    assert_eq!(mine["value"].as_array().unwrap().len(), 1);
    let diego = sandbox.user_token("diego", true).await;
    let (_, theirs) = sandbox
        .graph_get(
            &diego,
            &format!("{REQUESTS}/filterByCurrentUser(on='principal')"),
        )
        .await;
    assert!(theirs["value"].as_array().unwrap().is_empty());

    sandbox.advance_clock("PT4H1M").await;
    let (_, instances) = sandbox
        .graph_get(
            &token,
            &format!("{INSTANCES}?$filter=principalId eq '{alex}'"),
        )
        .await;
    assert!(
        instances["value"].as_array().unwrap().is_empty(),
        "{instances}"
    );
    assert!(!is_member(&sandbox, &group, &alex));
    assert_eq!(
        membership_events(&sandbox, &group, &alex),
        ["added", "removed"]
    );
}

#[tokio::test]
async fn activation_longer_than_the_maximum_or_unbounded_fails_the_expiration_rule() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let token = sandbox.user_token("alex", true).await;
    let (status, body) = sandbox
        .graph_post(&token, REQUESTS, &activation(&alex, &group, "PT5H"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        rules_failed(&body),
        "The following policy rules failed: [\"ExpirationRule\"]"
    );

    let mut unbounded = activation(&alex, &group, "PT1H");
    unbounded["scheduleInfo"]["expiration"] = json!({ "type": "noExpiration" });
    let (status, body) = sandbox.graph_post(&token, REQUESTS, &unbounded).await;
    assert_eq!(status, 400);
    assert!(rules_failed(&body).contains("ExpirationRule"));
    assert!(!is_member(&sandbox, &group, &alex));
}

#[tokio::test]
async fn missing_justification_and_mfa_are_reported_together_then_mfa_is_granted() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let no_mfa = sandbox.user_token("alex", false).await;

    let mut body = activation(&alex, &group, "PT2H");
    body.as_object_mut().unwrap().remove("justification");
    let (status, error) = sandbox.graph_post(&no_mfa, REQUESTS, &body).await;
    assert_eq!(status, 400);
    assert_eq!(
        rules_failed(&error),
        "The following policy rules failed: [\"JustificationRule\",\"MfaRule\"]"
    );

    let (status, error) = sandbox
        .graph_post(&no_mfa, REQUESTS, &activation(&alex, &group, "PT2H"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        rules_failed(&error),
        "The following policy rules failed: [\"MfaRule\"]"
    );
    assert!(!is_member(&sandbox, &group, &alex));

    let mfa = sandbox.user_token("alex", true).await;
    let (status, granted) = sandbox
        .graph_post(&mfa, REQUESTS, &activation(&alex, &group, "PT2H"))
        .await;
    assert_eq!(
        (status, granted["status"].as_str()),
        (201, Some("Provisioned")),
        "{granted}"
    );
    assert!(is_member(&sandbox, &group, &alex));
}

#[tokio::test]
async fn authentication_context_c1_is_demanded_with_a_claims_request() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-privroleadmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "priv-role-admin", "PT8H");
    let mut body = activation(&alex, &group, "PT2H");

    let plain = sandbox.user_token("alex", true).await;
    let (status, error) = sandbox.graph_post(&plain, REQUESTS, &body).await;
    assert_eq!(status, 400);
    assert_eq!(
        rules_failed(&error),
        "The following policy rules failed: [\"TicketingRule\"]"
    );

    body["ticketInfo"] = json!({ "ticketNumber": "CHG-1234", "ticketSystem": "ServiceNow" });
    let (status, error) = sandbox.graph_post(&plain, REQUESTS, &body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["error"]["code"],
        "RoleAssignmentRequestAcrsValidationFailed"
    );
    let message = error["error"]["message"].as_str().unwrap();
    let encoded = message
        .strip_prefix("&claims=")
        .expect("a claims parameter");
    let claims: Value = serde_json::from_str(&percent_decode(encoded)).unwrap();
    assert_eq!(
        claims,
        json!({ "access_token": { "acrs": { "essential": true, "value": "c1" } } })
    );

    let wrong_context = sandbox.user_token_acrs("alex", true, &["c2"]).await;
    let (status, _) = sandbox.graph_post(&wrong_context, REQUESTS, &body).await;
    assert_eq!(status, 400);

    let stepped_up = sandbox.user_token_acrs("alex", false, &["c1"]).await;
    let (status, granted) = sandbox.graph_post(&stepped_up, REQUESTS, &body).await;
    assert_eq!(status, 201, "{granted}");
    assert_eq!(granted["ticketInfo"]["ticketNumber"], "CHG-1234");
    assert!(is_member(&sandbox, &group, &alex));
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn only_the_eligible_principal_itself_can_activate() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let (alex, diego) = (sandbox.persona_id("alex"), sandbox.persona_id("diego"));
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");

    let diego_token = sandbox.user_token("diego", true).await;
    let (status, body) = sandbox
        .graph_post(&diego_token, REQUESTS, &activation(&diego, &group, "PT1H"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        rules_failed(&body),
        "The following policy rules failed: [\"EligibilityRule\"]"
    );

    let (status, body) = sandbox
        .graph_post(&diego_token, REQUESTS, &activation(&alex, &group, "PT1H"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );

    // The app's consented permissions are read-only: PIM's own 403.
    let app = sandbox.app_token().await;
    let (status, body) = sandbox
        .graph_post(&app, REQUESTS, &activation(&alex, &group, "PT1H"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("UnknownError"))
    );
    // Even with the write permission, an app cannot act as the principal.
    sandbox
        .state
        .world()
        .app
        .application_permissions
        .push("PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup".into());
    let app = sandbox.app_token().await;
    let (status, body) = sandbox
        .graph_post(&app, REQUESTS, &activation(&alex, &group, "PT1H"))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied")),
        "{body}"
    );
    assert!(!is_member(&sandbox, &group, &alex));
}

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
