//! PIM for Groups activation: `selfActivate` / `selfDeactivate` /
//! `adminAssign` through assignmentScheduleRequests, with the group policy
//! enforced, and the membership it gives and takes away.

use serde_json::{Value, json};
use stagegate_sandbox::world::SimEvent;

use crate::helpers::{TestSandbox, grant_assignment, group_id, spawn_sandbox};

pub const REQUESTS: &str = "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests";
pub const INSTANCES: &str =
    "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances";

pub fn activation(principal: &str, group: &str, duration: &str) -> Value {
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

pub fn rules_failed(body: &Value) -> &str {
    assert_eq!(
        body["error"]["code"], "RoleAssignmentRequestPolicyValidationFailed",
        "{body}"
    );
    body["error"]["message"].as_str().unwrap()
}

pub fn is_member(sandbox: &TestSandbox, group: &str, user: &str) -> bool {
    sandbox.state.world().groups[group].members.contains(user)
}

pub fn membership_events(sandbox: &TestSandbox, group: &str, user: &str) -> Vec<&'static str> {
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

pub fn percent_decode(text: &str) -> String {
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
