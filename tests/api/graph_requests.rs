//! Emulated Graph: creating, reading, filtering and cancelling access
//! package assignment requests, and the assignments they produce.

use serde_json::{Value, json};
use stagegate_sandbox::world::SimEvent;

use crate::helpers::{REQUESTS, TestSandbox, spawn_sandbox};

mod assignments;

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Microsoft's create Example 3 (userAdd with answers, only
/// `assignment.accessPackageId`), adapted to seeded ids.
#[tokio::test]
async fn create_user_add_replays_example_3_with_v1_names() {
    let sandbox = spawn_sandbox().await;
    let (package, _, question) = sandbox.package("global-admin");
    let token = sandbox.user_token("alex", true).await;
    let body = json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequest",
        "requestType": "userAdd",
        "answers": [{
            "@odata.type": "#microsoft.graph.accessPackageAnswerString",
            "displayValue": "INC-1234",
            "value": "INC-1234",
            "answeredQuestion": {
                "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                "id": question.unwrap(),
            }
        }],
        "assignment": { "accessPackageId": package },
        "justification": "INC-1234: rotate the break-glass certificate",
    });
    let (status, created) = sandbox.graph_post(&token, REQUESTS, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["requestType"], "userAdd");
    assert_eq!(created["state"], "submitted");
    assert_eq!(created["status"], "Accepted");
    assert!(created["createdDateTime"].is_null());
    assert!(created["completedDateTime"].is_null());
    assert_eq!(created["schedule"]["expiration"]["type"], "notSpecified");
    assert_eq!(created["answers"][0]["value"], "INC-1234");
    assert_eq!(
        created["answers"][0]["answeredQuestion"]["@odata.type"],
        "#microsoft.graph.accessPackageTextInputQuestion"
    );
    assert!(
        created["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("assignmentRequests/$entity")
    );
    for beta in [
        "requestState",
        "requestStatus",
        "completedDate",
        "isValidationOnly",
    ] {
        assert!(created.get(beta).is_none(), "{beta} is not a v1.0 property");
    }
    let id = created["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());

    // Processing has begun: GET shows the request waiting for stage 1.
    let read = sandbox.request_json(id).await;
    assert_eq!(read["state"], "pendingApproval");
    assert_eq!(read["status"], "PendingApproval");
    assert!(read["createdDateTime"].is_string());
    assert_eq!(
        sandbox.count_events(|e| *e
            == SimEvent::RequestCreated {
                request_id: id.into()
            }),
        1
    );
}

/// Example 4 uses beta-era names; v1.0 refuses unknown properties by name,
/// but accepts the PascalCase enum and answers with the CSDL's spelling.
#[tokio::test]
async fn beta_property_names_are_refused_and_enum_case_is_normalised() {
    let sandbox = spawn_sandbox().await;
    let (package, _, _) = sandbox.package("helpdesk-admin");
    let token = sandbox.user_token("alex", false).await;
    let (status, body) = sandbox
        .graph_post(
            &token,
            REQUESTS,
            &json!({
                "requestType": "UserAdd",
                "accessPackageAssignment": { "accessPackageId": package },
                "justification": "Need access to New Hire access package"
            }),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'accessPackageAssignment' does not exist")
    );
    let (status, body) = sandbox
        .graph_post(
            &token,
            REQUESTS,
            &json!({ "requestType": "UserAdd", "assignment": { "accessPackageId": package } }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["requestType"], "userAdd");
}

#[tokio::test]
async fn answers_and_justification_are_validated() {
    let sandbox = spawn_sandbox().await;
    let (package, policy, _) = sandbox.package("global-admin");
    let token = sandbox.user_token("alex", true).await;
    let base = json!({
        "requestType": "userAdd",
        "assignment": { "accessPackageId": package, "assignmentPolicyId": policy },
        "justification": "INC-1 outage",
    });
    let (status, body) = sandbox.graph_post(&token, REQUESTS, &base).await;
    assert_eq!(
        (status, code(&body)),
        (400, "QuestionNotAnswered"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ITSM ticket number")
    );

    let (status, body) = sandbox
        .request_package("alex", "global-admin", "ticket 42")
        .await;
    assert_eq!((status, code(&body)), (400, "InvalidAnswer"), "{body}");

    let mut no_justification = base.clone();
    no_justification["justification"] = json!("   ");
    let (status, body) = sandbox
        .graph_post(&token, REQUESTS, &no_justification)
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, "RequestorJustificationRequired"),
        "{body}"
    );
    // Nothing was created by the refused attempts.
    assert!(sandbox.state.world().requests.is_empty());
}

#[tokio::test]
async fn policy_scope_and_existing_requests_are_enforced() {
    let sandbox = spawn_sandbox().await;
    // Johanna (Marketing) is not in SG-IT-Operations.
    let (status, body) = sandbox
        .request_package("johanna", "helpdesk-admin", "INC-1")
        .await;
    assert_eq!(
        (status, code(&body)),
        (403, "RequestorNotInPolicyScope"),
        "{body}"
    );

    let first = sandbox.submit("alex", "helpdesk-admin").await;
    let (status, body) = sandbox
        .request_package("alex", "helpdesk-admin", "INC-2")
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, "ExistingOpenRequest"),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains(&first));

    let (status, _) = sandbox.decide("lee", &first, "Approve", "ok").await;
    assert_eq!(status, 204);
    let (status, body) = sandbox
        .request_package("alex", "helpdesk-admin", "INC-3")
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, "AccessPackageAlreadyAssigned"),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_ids_wrong_policy_and_wrong_caller_are_refused() {
    let sandbox = spawn_sandbox().await;
    let (helpdesk, _, _) = sandbox.package("helpdesk-admin");
    let (_, global_policy, _) = sandbox.package("global-admin");
    let token = sandbox.user_token("alex", false).await;
    let add = |assignment: Value| json!({ "requestType": "userAdd", "assignment": assignment });

    let (status, body) = sandbox
        .graph_post(
            &token,
            REQUESTS,
            &add(json!({ "accessPackageId": "ac0e5500-0000-4000-8000-0000000000ff" })),
        )
        .await;
    assert_eq!((status, code(&body)), (404, "ResourceNotFound"), "{body}");

    let (status, body) = sandbox
        .graph_post(
            &token,
            REQUESTS,
            &add(json!({ "accessPackageId": helpdesk, "assignmentPolicyId": global_policy })),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (400, "InvalidAssignmentPolicy"),
        "{body}"
    );

    // userAdd is for the signed-in user only.
    let (status, _) = sandbox
        .graph_post(
            &token,
            REQUESTS,
            &add(json!({ "accessPackageId": helpdesk, "targetId": sandbox.persona_id("diego") })),
        )
        .await;
    assert_eq!(status, 403);

    // Self-service is delegated-only; the app's token is refused.
    let app = sandbox.app_token().await;
    let (status, body) = sandbox
        .graph_post(&app, REQUESTS, &add(json!({ "accessPackageId": helpdesk })))
        .await;
    assert_eq!((status, code(&body)), (403, "Authorization_RequestDenied"));

    // Reading needs EntitlementManagement.Read.All at least.
    let subject_only = sandbox
        .user_token_with("alex", &["EntitlementMgmt-SubjectAccess.ReadWrite"])
        .await;
    let (status, body) = sandbox
        .graph_post(
            &subject_only,
            REQUESTS,
            &add(json!({ "accessPackageId": helpdesk })),
        )
        .await;
    assert_eq!(
        status, 201,
        "the subject-access scope suffices for userAdd: {body}"
    );
    let (status, _) = sandbox.graph_get(&subject_only, REQUESTS).await;
    assert_eq!(status, 403);
}

async fn two_requests(sandbox: &TestSandbox) -> (String, String) {
    let alex = sandbox.submit("alex", "global-admin").await;
    sandbox.advance_clock("PT1M").await;
    let diego = sandbox.submit("diego", "helpdesk-admin").await;
    (alex, diego)
}

#[tokio::test]
async fn list_filters_expands_and_pages() {
    let sandbox = spawn_sandbox().await;
    let (alex_request, diego_request) = two_requests(&sandbox).await;
    let (global, _, _) = sandbox.package("global-admin");
    let token = sandbox.app_token().await;

    let path = format!(
        "{REQUESTS}?$expand=accessPackage,requestor&$filter=accessPackage/id eq '{global}'"
    );
    let (status, body) = sandbox.graph_get(&token, &path).await;
    assert_eq!(status, 200, "{body}");
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["id"], alex_request.as_str());
    assert_eq!(
        value[0]["accessPackage"]["displayName"],
        "AP – Global Admin Eligibility Request"
    );
    let requestor = &value[0]["requestor"];
    assert_eq!(requestor["objectId"], sandbox.persona_id("alex").as_str());
    assert_eq!(requestor["displayName"], "Alex Wilber");
    assert_eq!(requestor["email"], "alex@contoso.example");
    assert_eq!(requestor["principalName"], "alex@contoso.example");
    assert_eq!(requestor["subjectType"], "user");
    assert_ne!(requestor["id"], requestor["objectId"]);

    let path = format!(
        "{REQUESTS}?$filter=requestor/objectId eq '{}'",
        sandbox.persona_id("diego")
    );
    let (_, body) = sandbox.graph_get(&token, &path).await;
    let ids: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![diego_request.as_str()]);
    assert!(body["value"][0].get("requestor").is_none(), "not expanded");

    let created = sandbox.request_json(&diego_request).await["createdDateTime"].clone();
    let path = format!(
        "{REQUESTS}?$filter=createdDateTime ge {} and state eq 'pendingApproval'",
        created.as_str().unwrap()
    );
    let (_, body) = sandbox.graph_get(&token, &path).await;
    assert_eq!(body["value"].as_array().unwrap().len(), 1);

    let (_, page1) = sandbox
        .graph_get(&token, &format!("{REQUESTS}?$top=1"))
        .await;
    assert_eq!(page1["value"][0]["id"], alex_request.as_str());
    let next = page1["@odata.nextLink"].as_str().unwrap();
    let page2: Value = sandbox
        .http
        .get(next)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page2["value"][0]["id"], diego_request.as_str());
    assert!(page2.get("@odata.nextLink").is_none());

    let (status, body) = sandbox
        .graph_get(&token, &format!("{REQUESTS}?$filter=justification eq 'x'"))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = sandbox
        .graph_get(&token, &format!("{REQUESTS}?$expand=approval"))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn filter_by_current_user_is_delegated_and_scoped_to_the_caller() {
    let sandbox = spawn_sandbox().await;
    let (alex_request, _) = two_requests(&sandbox).await;
    let alex = sandbox
        .user_token_with("alex", &["EntitlementMgmt-SubjectAccess.ReadWrite"])
        .await;
    for on in ["target", "createdBy"] {
        let (status, body) = sandbox
            .graph_get(&alex, &format!("{REQUESTS}/filterByCurrentUser(on='{on}')"))
            .await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<&str> = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![alex_request.as_str()], "on={on}");
    }
    let miriam = sandbox.user_token("miriam", true).await;
    let (_, body) = sandbox
        .graph_get(
            &miriam,
            &format!("{REQUESTS}/filterByCurrentUser(on='approver')"),
        )
        .await;
    assert_eq!(body["value"][0]["id"], alex_request.as_str());
    let (status, _) = sandbox
        .graph_get(
            &alex,
            &format!("{REQUESTS}/filterByCurrentUser(on='nobody')"),
        )
        .await;
    assert_eq!(status, 400);
    let app = sandbox.app_token().await;
    let (status, _) = sandbox
        .graph_get(
            &app,
            &format!("{REQUESTS}/filterByCurrentUser(on='target')"),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn requestor_cancels_a_pending_request() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let cancel = format!("{REQUESTS}/{id}/cancel");
    let empty = json!({});
    let app = sandbox.app_token().await;
    let (status, _) = sandbox.graph_post(&app, &cancel, &empty).await;
    assert_eq!(status, 403, "cancel is delegated-only");
    let diego = sandbox
        .user_token_with("diego", &["EntitlementMgmt-SubjectAccess.ReadWrite"])
        .await;
    let (status, _) = sandbox.graph_post(&diego, &cancel, &empty).await;
    assert_eq!(status, 403, "not Diego's request");

    let alex = sandbox
        .user_token_with("alex", &["EntitlementMgmt-SubjectAccess.ReadWrite"])
        .await;
    let (status, body) = sandbox.graph_post(&alex, &cancel, &empty).await;
    assert_eq!(status, 204, "{body}");
    assert!(body.is_null());
    let read = sandbox.request_json(&id).await;
    assert_eq!(
        (read["state"].as_str(), read["status"].as_str()),
        (Some("canceled"), Some("Canceled"))
    );
    assert!(read["completedDateTime"].is_string());
    let (status, _) = sandbox.decide("miriam", &id, "Approve", "ok").await;
    assert_eq!(status, 409, "a canceled request can't be decided");
    let (status, body) = sandbox.graph_post(&alex, &cancel, &empty).await;
    assert_eq!(status, 400, "{body}");
    // A new request is possible once the old one is closed.
    sandbox.submit("alex", "global-admin").await;
}
