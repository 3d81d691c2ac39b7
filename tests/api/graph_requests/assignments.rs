//! Requests that create, extend and remove assignments, and the
//! `accessPackageAssignment` reads.

use serde_json::{Value, json};
use stagegate_sandbox::world::SimEvent;

use super::code;
use crate::helpers::{ASSIGNMENTS, REQUESTS, spawn_sandbox};

#[tokio::test]
async fn admin_add_needs_write_permission_and_an_enabled_target() {
    let sandbox = spawn_sandbox().await;
    let (package, policy, _) = sandbox.package("helpdesk-admin");
    let body = |target: String| {
        json!({
            "requestType": "adminAdd",
            "assignment": { "targetId": target, "assignmentPolicyId": policy, "accessPackageId": package }
        })
    };
    // The seeded app holds EntitlementManagement.Read.All only.
    let app = sandbox.app_token().await;
    let (status, _) = sandbox
        .graph_post(&app, REQUESTS, &body(sandbox.persona_id("lee")))
        .await;
    assert_eq!(status, 403);

    let admin = sandbox.user_token("adele", true).await;
    let (status, response) = sandbox
        .graph_post(&admin, REQUESTS, &body(sandbox.persona_id("nestor")))
        .await;
    assert_eq!(
        (status, code(&response)),
        (400, "UserAccountDisabled"),
        "{response}"
    );

    // Example 1 (adminAdd): a direct assignment, delivered without approval.
    let (status, response) = sandbox
        .graph_post(&admin, REQUESTS, &body(sandbox.persona_id("lee")))
        .await;
    assert_eq!(status, 201, "{response}");
    assert_eq!(response["requestType"], "adminAdd");
    let id = response["id"].as_str().unwrap();
    let read = sandbox.request_json(id).await;
    assert_eq!(read["state"], "delivered");
    assert_eq!(read["assignment"]["state"], "delivered");
    let (status, _) = sandbox.approval("adele", id).await;
    assert_eq!(status, 404, "a direct assignment has no approval");
}

#[tokio::test]
async fn assignments_are_listed_filtered_and_removed() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    assert_eq!(sandbox.decide("isaiah", &id, "Approve", "").await.0, 204);
    let assignment_id = sandbox.request_json(&id).await["assignment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let app = sandbox.app_token().await;
    let path = format!(
        "{ASSIGNMENTS}?$filter=target/objectId eq '{}' and state eq 'delivered'&$expand=target,accessPackage",
        sandbox.persona_id("alex")
    );
    let (status, body) = sandbox.graph_get(&app, &path).await;
    assert_eq!(status, 200, "{body}");
    let a = &body["value"][0];
    assert_eq!(a["id"], assignment_id.as_str());
    assert_eq!(a["target"]["principalName"], "alex@contoso.example");
    assert_eq!(
        a["accessPackage"]["displayName"],
        "AP – Helpdesk Admin Eligibility Request"
    );
    assert_eq!(a["schedule"]["expiration"]["type"], "afterDateTime");

    let alex = sandbox.user_token("alex", false).await;
    let (_, mine) = sandbox
        .graph_get(
            &alex,
            &format!("{ASSIGNMENTS}/filterByCurrentUser(on='target')"),
        )
        .await;
    assert_eq!(mine["value"].as_array().unwrap().len(), 1);

    // userRemove by the holder: delivered at once, the assignment ends.
    let (status, removal) = sandbox
        .graph_post(
            &alex,
            REQUESTS,
            &json!({ "requestType": "userRemove", "assignment": { "id": assignment_id } }),
        )
        .await;
    assert_eq!(status, 201, "{removal}");
    let removal = sandbox.request_json(removal["id"].as_str().unwrap()).await;
    assert_eq!(removal["state"], "delivered");
    assert_eq!(removal["assignment"]["state"], "expired");
    assert!(removal["assignment"]["expiredDateTime"].is_string());
    assert_eq!(
        sandbox.count_events(|e| *e
            == SimEvent::AssignmentRemoved {
                assignment_id: assignment_id.clone()
            }),
        1
    );
    let (status, _) = sandbox
        .graph_get(&app, &format!("{ASSIGNMENTS}/{assignment_id}"))
        .await;
    assert_eq!(status, 200);
    let (status, body) = sandbox
        .graph_post(
            &alex,
            REQUESTS,
            &json!({ "requestType": "userRemove", "assignment": { "id": assignment_id } }),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "AssignmentNotActive"));
}

/// `userUpdate` extends the same assignment after approval; Example 2's
/// `adminRemove` then ends it.
#[tokio::test]
async fn user_update_extends_and_admin_remove_ends_the_assignment() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    assert_eq!(sandbox.decide("lee", &id, "Approve", "").await.0, 204);
    let first = sandbox.request_json(&id).await["assignment"].clone();
    let assignment_id = first["id"].as_str().unwrap().to_owned();
    sandbox.advance_clock("PT6H").await;

    let (package, _, question) = sandbox.package("helpdesk-admin");
    let alex = sandbox.user_token("alex", true).await;
    let (status, update) = sandbox
        .graph_post(
            &alex,
            REQUESTS,
            &json!({
                "requestType": "userUpdate",
                "assignment": { "accessPackageId": package },
                "justification": "INC-5 still open",
                "answers": [{
                    "@odata.type": "#microsoft.graph.accessPackageAnswerString",
                    "value": "INC-5",
                    "answeredQuestion": { "id": question.unwrap() }
                }],
            }),
        )
        .await;
    assert_eq!(status, 201, "{update}");
    let update_id = update["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sandbox.request_json(&update_id).await["state"],
        "pendingApproval"
    );
    assert_eq!(
        sandbox.decide("isaiah", &update_id, "Approve", "").await.0,
        204
    );
    let extended = sandbox.request_json(&update_id).await["assignment"].clone();
    assert_eq!(
        extended["id"],
        assignment_id.as_str(),
        "the same assignment"
    );
    let end = |a: &Value| {
        chrono::DateTime::parse_from_rfc3339(
            a["schedule"]["expiration"]["endDateTime"].as_str().unwrap(),
        )
        .unwrap()
    };
    // Extended from the decision (6 h later plus the test's own real time).
    let gained = end(&extended) - end(&first);
    assert!(
        gained >= chrono::Duration::hours(6) && gained < chrono::Duration::minutes(361),
        "{gained}"
    );
    assert_eq!(
        sandbox.count_events(|e| matches!(e, SimEvent::AssignmentGranted { .. })),
        1,
        "an extension grants nothing new"
    );

    let admin = sandbox.user_token("adele", true).await;
    let (status, removal) = sandbox
        .graph_post(
            &admin,
            REQUESTS,
            &json!({ "requestType": "adminRemove", "assignment": { "id": assignment_id } }),
        )
        .await;
    assert_eq!(status, 201, "{removal}");
    assert_eq!(removal["requestType"], "adminRemove");
    assert_eq!(
        (removal["state"].as_str(), removal["status"].as_str()),
        (Some("submitted"), Some("Accepted"))
    );
    let app = sandbox.app_token().await;
    let (_, a) = sandbox
        .graph_get(&app, &format!("{ASSIGNMENTS}/{assignment_id}"))
        .await;
    assert_eq!(a["state"], "expired");
}
