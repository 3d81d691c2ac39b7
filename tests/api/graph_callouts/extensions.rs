//! `customWorkflowExtensions`, policy stage settings, and `resume`.

use serde_json::{Value, json};
use stagegate_sandbox::graph::custom_extensions;
use stagegate_sandbox::world::SimEvent;

use super::{point_relay_at, seed_request};
use crate::helpers::{Handshake, Receiver, TestSandbox, spawn_sandbox};

/// The docs' Example 1 body (a launch-and-wait request extension).
fn request_extension() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
        "displayName": "test_action_0124_email",
        "description": "this is for graph testing only",
        "endpointConfiguration": {
            "@odata.type": "#microsoft.graph.logicAppTriggerEndpointConfiguration",
            "subscriptionId": "38ab2ccc-3747-4567-b36b-9478f5602f0d",
            "resourceGroupName": "test",
            "logicAppWorkflowName": "elm-extension-email"
        },
        "authenticationConfiguration": {
            "@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"
        },
        "callbackConfiguration": {
            "@odata.type": "microsoft.graph.customExtensionCallbackConfiguration",
            "durationBeforeTimeout": "PT1H"
        }
    })
}

async fn post_extension(
    sandbox: &TestSandbox,
    token: &str,
    catalog: &str,
    body: &Value,
) -> (u16, Value) {
    let response = sandbox
        .http
        .post(sandbox.graph(&format!(
            "/identityGovernance/entitlementManagement/catalogs/{catalog}/customWorkflowExtensions"
        )))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn custom_extensions_replay_the_docs_examples() {
    let sandbox = spawn_sandbox().await;
    let s = seed_request(&sandbox);
    let admin = sandbox.user_token("bianca", true).await;
    let (status, created) =
        post_extension(&sandbox, &admin, &s.catalog_id, &request_extension()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["@odata.type"],
        "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension"
    );
    assert_eq!(created["callbackConfiguration"]["timeoutDuration"], "PT1H");
    assert!(
        created["callbackConfiguration"]
            .get("durationBeforeTimeout")
            .is_none()
    );
    assert!(
        created["endpointConfiguration"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(created["createdDateTime"].is_string());

    // Example 2 wraps the entity in "value" and creates the pre-expiry type.
    let mut wrapped = request_extension();
    wrapped["@odata.type"] = json!("#microsoft.graph.accessPackageAssignmentWorkflowExtension");
    wrapped
        .as_object_mut()
        .unwrap()
        .remove("callbackConfiguration");
    let (status, second) = post_extension(
        &sandbox,
        &admin,
        &s.catalog_id,
        &json!({ "value": wrapped }),
    )
    .await;
    assert_eq!(status, 201, "{second}");

    let base = format!(
        "/identityGovernance/entitlementManagement/catalogs/{}/customWorkflowExtensions",
        s.catalog_id
    );
    let app = sandbox.app_token().await;
    let list: Value = sandbox
        .http
        .get(sandbox.graph(&base))
        .bearer_auth(&app)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    let one = sandbox
        .http
        .get(sandbox.graph(&format!("{base}/{}", created["id"].as_str().unwrap())))
        .bearer_auth(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);

    // The app holds only EntitlementManagement.Read.All.
    let (status, _) = post_extension(&sandbox, &app, &s.catalog_id, &request_extension()).await;
    assert_eq!(status, 403);
    let mut http_endpoint = request_extension();
    http_endpoint["endpointConfiguration"] =
        json!({ "@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://x" });
    let mut short = request_extension();
    short["callbackConfiguration"]["durationBeforeTimeout"] = json!("PT1M");
    let mut waiting_expiry = wrapped.clone();
    waiting_expiry["callbackConfiguration"] = json!({ "timeoutDuration": "PT1H" });
    for body in [
        http_endpoint,
        short,
        waiting_expiry,
        json!({ "displayName": "untyped" }),
    ] {
        let (status, error) = post_extension(&sandbox, &admin, &s.catalog_id, &body).await;
        assert_eq!(status, 400, "{body} → {error}");
    }
    let (status, _) =
        post_extension(&sandbox, &admin, "no-such-catalog", &request_extension()).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn policy_stage_settings_limit_callouts_to_bound_stages() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    point_relay_at(&sandbox, &receiver).await;
    let s = seed_request(&sandbox);
    let admin = sandbox.user_token("bianca", true).await;
    let (_, extension) =
        post_extension(&sandbox, &admin, &s.catalog_id, &request_extension()).await;
    let extension_id = extension["id"].as_str().unwrap();
    custom_extensions::set_stage_settings(
        &sandbox.state,
        &s.policy_id,
        &json!([{ "stage": "assignmentRequestApproved", "customExtension": { "id": extension_id } }]),
    )
    .unwrap();
    // A request stage cannot use a pre-expiry extension type, and vice versa.
    assert!(
        custom_extensions::set_stage_settings(
            &sandbox.state,
            &s.policy_id,
            &json!([{ "stage": "assignmentOneDayBeforeExpiration", "customExtension": { "id": extension_id } }]),
        )
        .is_err()
    );
    let rendered = custom_extensions::stage_settings_json(&sandbox.state, &s.policy_id, true);
    assert_eq!(rendered[0]["stage"], "assignmentRequestApproved");
    assert_eq!(rendered[0]["customExtension"]["id"], extension_id);
    // Graph shows the binding on the policy itself.
    let app = sandbox.app_token().await;
    let (status, policy) = sandbox
        .graph_get(
            &app,
            &format!(
                "/identityGovernance/entitlementManagement/assignmentPolicies/{}?$expand=customExtensionStageSettings($expand=customExtension)",
                s.policy_id
            ),
        )
        .await;
    assert_eq!(status, 200, "{policy}");
    let settings = &policy["customExtensionStageSettings"];
    assert_eq!(
        settings[0]["stage"], "assignmentRequestApproved",
        "{policy}"
    );
    assert_eq!(settings[0]["customExtension"]["id"], extension_id);

    {
        let mut world = sandbox.state.world();
        world.events.push(SimEvent::RequestCreated {
            request_id: s.request_id.clone(),
        });
        world.events.push(SimEvent::RequestApproved {
            request_id: s.request_id.clone(),
        });
    }
    let callout = receiver.next().await;
    assert_eq!(callout.body["data"]["stage"], "assignmentRequestApproved");
    assert_eq!(callout.body["data"]["customExtensionId"], extension_id);
    assert_eq!(
        callout.body["data"]["callbackConfiguration"]["timeoutDuration"],
        "PT1H"
    );
    // Both events were handled in the same pass: the unbound stage made none.
    assert_eq!(sandbox.callouts().await.len(), 1);
}

async fn post_resume(sandbox: &TestSandbox, token: &str, path: &str, body: &Value) -> u16 {
    sandbox
        .http
        .post(sandbox.graph(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn launch_and_wait_callout_is_resumed_and_can_deny() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    point_relay_at(&sandbox, &receiver).await;
    let s = seed_request(&sandbox);
    {
        let mut world = sandbox.state.world();
        let request = world.requests.get_mut(&s.request_id).unwrap();
        request.state = "pendingApproval".into();
        request.status = "PendingApproval".into();
    }
    let admin = sandbox.user_token("bianca", true).await;
    let (_, extension) =
        post_extension(&sandbox, &admin, &s.catalog_id, &request_extension()).await;
    custom_extensions::set_stage_settings(
        &sandbox.state,
        &s.policy_id,
        &json!([{ "stage": "assignmentRequestCreated", "customExtension": { "id": extension["id"] } }]),
    )
    .unwrap();
    sandbox.state.world().events.push(SimEvent::RequestCreated {
        request_id: s.request_id.clone(),
    });
    let callout = receiver.next().await;
    let data = &callout.body["data"];
    let path = data["callbackUriPath"].as_str().unwrap().to_owned();
    let instance = data["customExtensionStageInstanceId"].as_str().unwrap();

    // The docs' "resume and deny" body, aimed at this callout.
    let deny = json!({
        "source": "Contoso.SodCheckProcess",
        "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
        "data": {
            "@odata.type": "microsoft.graph.accessPackageAssignmentRequestCallbackData",
            "stage": "AssignmentRequestCreated",
            "customExtensionStageInstanceId": instance,
            "state": "denied",
            "customExtensionStageInstanceDetail": "Potential risk user based on the SOD check"
        }
    });
    let app = sandbox.app_token().await;
    assert_eq!(
        post_resume(&sandbox, &app, &path, &deny).await,
        403,
        "app holds Read.All only"
    );
    assert_eq!(post_resume(&sandbox, &admin, &path, &deny).await, 204);
    assert_eq!(
        sandbox.state.world().requests[&s.request_id].state,
        "denied"
    );
    assert_eq!(
        post_resume(&sandbox, &admin, &path, &deny).await,
        400,
        "already resumed"
    );

    let mut unknown = deny.clone();
    unknown["data"]["customExtensionStageInstanceId"] = json!("not-a-callout");
    assert_eq!(post_resume(&sandbox, &admin, &path, &unknown).await, 400);
    let mut late_stage = deny.clone();
    late_stage["type"] =
        json!("microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestGranted");
    late_stage["data"]["stage"] = json!("assignmentRequestGranted");
    assert_eq!(
        post_resume(&sandbox, &admin, &path, &late_stage).await,
        400,
        "deny only at created"
    );
    let missing = "/identityGovernance/entitlementManagement/assignmentRequests/nope/resume";
    assert_eq!(post_resume(&sandbox, &admin, missing, &deny).await, 404);

    let config: Value = sandbox
        .http
        .get(sandbox.url("/sim/callouts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["callbacks"][instance]["source"],
        "Contoso.SodCheckProcess"
    );
}
