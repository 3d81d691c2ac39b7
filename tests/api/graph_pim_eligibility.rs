//! PIM for Groups eligibility: created by access-package delivery, ended by
//! expiry, read through the filtered lists and filterByCurrentUser.

use serde_json::Value;

use crate::helpers::{grant_assignment, group_id, spawn_sandbox};

const BASE: &str = "/identityGovernance/privilegedAccess/group";

fn values(body: &Value) -> &Vec<Value> {
    body["value"].as_array().expect("a collection")
}

#[tokio::test]
async fn delivery_creates_member_eligibility_and_expiry_ends_it() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    let assignment = grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    let app = sandbox.app_token().await;

    let (status, body) = sandbox
        .graph_get(
            &app,
            &format!("{BASE}/eligibilitySchedules?$filter=groupId eq '{group}'"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let schedules = values(&body);
    assert_eq!(schedules.len(), 1, "{body}");
    let schedule = &schedules[0];
    assert_eq!(schedule["id"], format!("{group}_member_{assignment}"));
    assert_eq!(schedule["principalId"], alex.as_str());
    assert_eq!(schedule["accessId"], "member");
    assert_eq!(schedule["memberType"], "direct");
    assert_eq!(schedule["status"], "Provisioned");
    assert_eq!(
        schedule["scheduleInfo"]["expiration"]["type"],
        "afterDateTime"
    );
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("group/eligibilitySchedules")
    );

    let (_, body) = sandbox
        .graph_get(
            &app,
            &format!("{BASE}/eligibilityScheduleInstances?$filter=principalId eq '{alex}'"),
        )
        .await;
    let instances = values(&body);
    assert_eq!(instances.len(), 1, "{body}");
    assert_eq!(instances[0]["eligibilityScheduleId"], schedule["id"]);
    assert_eq!(
        instances[0]["endDateTime"],
        schedule["scheduleInfo"]["expiration"]["endDateTime"]
    );
    // Eligibility is not membership.
    assert!(!sandbox.state.world().groups[&group].members.contains(&alex));

    // The same schedule id on every read (stable per assignment).
    let (_, again) = sandbox
        .graph_get(
            &app,
            &format!("{BASE}/eligibilitySchedules?$filter=principalId eq '{alex}'"),
        )
        .await;
    assert_eq!(values(&again)[0]["id"], schedule["id"]);

    sandbox.advance_clock("PT8H1M").await;
    for path in ["eligibilitySchedules", "eligibilityScheduleInstances"] {
        let (status, body) = sandbox
            .graph_get(&app, &format!("{BASE}/{path}?$filter=groupId eq '{group}'"))
            .await;
        assert_eq!(status, 200);
        assert!(values(&body).is_empty(), "{path} after expiry: {body}");
    }
}

#[tokio::test]
async fn removing_the_assignment_ends_the_eligibility() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-helpdeskadmin");
    let assignment = grant_assignment(&sandbox, "diego", "helpdesk-admin", "PT8H");
    let app = sandbox.app_token().await;
    let path = format!("{BASE}/eligibilitySchedules?$filter=groupId eq '{group}'");
    assert_eq!(values(&sandbox.graph_get(&app, &path).await.1).len(), 1);
    sandbox.state.world().assignments.remove(&assignment);
    assert!(values(&sandbox.graph_get(&app, &path).await.1).is_empty());
}

#[tokio::test]
async fn a_package_for_a_non_pim_group_grants_direct_membership() {
    let sandbox = spawn_sandbox().await;
    let leads = group_id(&sandbox, "security-leads");
    let diego = sandbox.persona_id("diego");
    {
        let mut world = sandbox.state.world();
        let package = world
            .access_packages
            .values_mut()
            .find(|p| p.key == "helpdesk-admin")
            .unwrap();
        package.grants_member_of = Some(leads.clone());
    }
    grant_assignment(&sandbox, "diego", "helpdesk-admin", "PT1H");
    {
        let world = sandbox.state.world();
        assert!(world.groups[&leads].members.contains(&diego));
        assert!(world.pim.eligibility.is_empty());
    }
    sandbox.advance_clock("PT2H").await;
    let world = sandbox.state.world();
    assert!(!world.groups[&leads].members.contains(&diego));
    // The seeded member stays.
    assert_eq!(world.groups[&leads].members.len(), 1);
}

#[tokio::test]
async fn lists_require_a_filter_on_group_or_principal() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    for collection in [
        "eligibilitySchedules",
        "eligibilityScheduleInstances",
        "assignmentSchedules",
        "assignmentScheduleInstances",
        "assignmentScheduleRequests",
    ] {
        for query in ["", "?$filter=status eq 'Provisioned'"] {
            let (status, body) = sandbox
                .graph_get(&app, &format!("{BASE}/{collection}{query}"))
                .await;
            assert_eq!(status, 400, "{collection}{query}: {body}");
            assert_eq!(body["error"]["code"], "BadRequest");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("principalId or groupId")
            );
            assert!(body["error"]["innerError"]["request-id"].is_string());
        }
    }
}

#[tokio::test]
async fn filter_by_current_user_replays_the_documented_example() {
    let sandbox = spawn_sandbox().await;
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    grant_assignment(&sandbox, "diego", "global-admin", "PT8H");
    let token = sandbox.user_token("alex", false).await;
    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!("{BASE}/eligibilityScheduleInstances/filterByCurrentUser(on='principal')"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let items = values(&body);
    assert_eq!(items.len(), 1, "{body}");
    let item = items[0].as_object().unwrap();
    assert_eq!(
        item["@odata.type"],
        "#microsoft.graph.privilegedAccessGroupEligibilityScheduleInstance"
    );
    assert_eq!(item["principalId"], alex.as_str());
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "@odata.type",
            "accessId",
            "eligibilityScheduleId",
            "endDateTime",
            "groupId",
            "id",
            "memberType",
            "principalId",
            "startDateTime",
        ]
    );

    // A percent-encoded function call is the same call.
    let (status, encoded) = sandbox
        .graph_get(
            &token,
            &format!("{BASE}/eligibilitySchedules/filterByCurrentUser(on=%27principal%27)"),
        )
        .await;
    assert_eq!(status, 200, "{encoded}");
    assert_eq!(values(&encoded).len(), 1);

    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!("{BASE}/eligibilitySchedules/filterByCurrentUser(on='approver')"),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let app = sandbox.app_token().await;
    let (status, _) = sandbox
        .graph_get(
            &app,
            &format!("{BASE}/eligibilityScheduleInstances/filterByCurrentUser(on='principal')"),
        )
        .await;
    assert_eq!(status, 400, "no current user in an app-only token");
}

#[tokio::test]
async fn list_with_group_and_principal_replays_the_documented_example() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let alex = sandbox.persona_id("alex");
    grant_assignment(&sandbox, "alex", "global-admin", "PT8H");
    grant_assignment(&sandbox, "diego", "global-admin", "PT8H");
    let token = sandbox.user_token("alex", false).await;
    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!("{BASE}/eligibilitySchedules?$filter=groupId eq '{group}' and principalId eq '{alex}'&$expand=principal"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let items = values(&body);
    assert_eq!(items.len(), 1);
    let mut keys: Vec<&str> = items[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "accessId",
            "createdDateTime",
            "createdUsing",
            "groupId",
            "id",
            "memberType",
            "modifiedDateTime",
            "principal",
            "principalId",
            "scheduleInfo",
            "status",
        ]
    );
    assert_eq!(
        items[0]["principal"]["userPrincipalName"],
        "alex@contoso.example"
    );

    let (_, by_id) = sandbox
        .graph_get(
            &token,
            &format!(
                "{BASE}/eligibilitySchedules/{}",
                items[0]["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(by_id["principalId"], alex.as_str());
    let (status, missing) = sandbox
        .graph_get(&token, &format!("{BASE}/eligibilitySchedules/nope"))
        .await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
}

#[tokio::test]
async fn reading_without_the_permission_is_refused_the_way_pim_refuses() {
    let sandbox = spawn_sandbox().await;
    let group = group_id(&sandbox, "grp-elig-globaladmin");
    let token = sandbox.user_token_with("alex", &["User.Read"]).await;
    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!("{BASE}/eligibilitySchedules?$filter=groupId eq '{group}'"),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "UnknownError");
    let inner: Value = serde_json::from_str(body["error"]["message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["errorCode"], "PermissionScopeNotGranted");
    assert!(
        inner["message"]
            .as_str()
            .unwrap()
            .contains("PrivilegedEligibilitySchedule.Read.AzureADGroup")
    );
}
