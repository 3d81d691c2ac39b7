//! Custom-extension callouts as the Logic App relay delivers them, and the
//! `customWorkflowExtensions` endpoints.

use chrono::Duration;
use serde_json::{Value, json};
use stagegate::sandbox::graph::custom_extensions;
use stagegate::sandbox::world::{Assignment, AssignmentRequest, SimEvent};

use crate::helpers::{Answer, Handshake, Receiver, TestSandbox, eventually, spawn_sandbox};

const SECRET: &str = "relay-shared-secret";

struct Seeded {
    request_id: String,
    assignment_id: String,
    policy_id: String,
    catalog_id: String,
    package_id: String,
}

/// A delivered global-admin request of Alex's, as the request lifecycle
/// (built elsewhere) would leave it.
fn seed_request(sandbox: &TestSandbox) -> Seeded {
    let mut world = sandbox.state.world();
    let package = world
        .access_packages
        .values()
        .find(|p| p.key == "global-admin")
        .unwrap()
        .clone();
    let policy_id = world
        .policies
        .values()
        .find(|p| p.access_package_id == package.id)
        .unwrap()
        .id
        .clone();
    let alex = world.user_by_key("alex").unwrap().id.clone();
    let now = sandbox.state.clock.now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let assignment_id = uuid::Uuid::new_v4().to_string();
    world.assignments.insert(
        assignment_id.clone(),
        Assignment {
            id: assignment_id.clone(),
            state: "delivered".into(),
            status: "Delivered".into(),
            access_package_id: package.id.clone(),
            policy_id: policy_id.clone(),
            target_id: alex.clone(),
            start: now,
            end: Some(now + Duration::hours(8)),
            expired_at: None,
        },
    );
    world.requests.insert(
        request_id.clone(),
        AssignmentRequest {
            id: request_id.clone(),
            request_type: "userAdd".into(),
            state: "delivered".into(),
            status: "Delivered".into(),
            created: now,
            completed: Some(now),
            justification: Some("rotate the break-glass certificate".into()),
            answers: vec![json!({
                "@odata.type": "#microsoft.graph.accessPackageAnswerString",
                "value": "TICKET-123",
            })],
            schedule: json!({}),
            access_package_id: package.id.clone(),
            policy_id: policy_id.clone(),
            requestor_id: alex.clone(),
            target_id: alex,
            assignment_id: Some(assignment_id.clone()),
            stages: vec![],
        },
    );
    Seeded {
        request_id,
        assignment_id,
        policy_id,
        catalog_id: package.catalog_id.clone(),
        package_id: package.id,
    }
}

async fn point_relay_at(sandbox: &TestSandbox, receiver: &Receiver) {
    let response = sandbox
        .http
        .post(sandbox.url("/sim/callouts"))
        .json(&json!({ "url": receiver.url("/intake/callouts"), "secret": SECRET }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn relays_every_stage_with_the_shared_secret() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    point_relay_at(&sandbox, &receiver).await;
    let s = seed_request(&sandbox);
    {
        let mut world = sandbox.state.world();
        let (r, a) = (s.request_id.clone(), s.assignment_id.clone());
        world.events.extend([
            SimEvent::RequestCreated {
                request_id: r.clone(),
            },
            SimEvent::RequestApproved {
                request_id: r.clone(),
            },
            SimEvent::AssignmentGranted {
                request_id: r,
                assignment_id: a.clone(),
            },
            SimEvent::AssignmentExpiring {
                assignment_id: a.clone(),
                days: 14,
            },
            SimEvent::AssignmentExpiring {
                assignment_id: a.clone(),
                days: 1,
            },
            SimEvent::AssignmentRemoved { assignment_id: a },
        ]);
    }
    let mut stages = Vec::new();
    let mut instances = Vec::new();
    for _ in 0..6 {
        let callout = receiver.next().await;
        assert_eq!(callout.path, "/intake/callouts");
        assert_eq!(callout.headers["x-stagegate-relay-secret"], SECRET);
        let body = &callout.body;
        let data = &body["data"];
        let stage = data["stage"].as_str().unwrap().to_owned();
        assert_eq!(body["source"], "Entra");
        assert_eq!(
            body["type"],
            format!("microsoft.graph.accessPackageCustomExtensionStage.{stage}")
        );
        assert_eq!(
            data["@odata.type"],
            "#microsoft.graph.accessPackageAssignmentRequestCalloutData"
        );
        assert_eq!(
            data["accessPackageAssignmentRequestId"],
            s.request_id.as_str()
        );
        assert_eq!(
            data["callbackUriPath"],
            format!(
                "/identityGovernance/entitlementManagement/assignmentRequests/{}/resume",
                s.request_id
            )
        );
        assert_eq!(data["requestType"], "userAdd");
        assert_eq!(data["state"], "delivered");
        assert_eq!(data["status"], "Delivered");
        assert_eq!(data["answers"][0]["value"], "TICKET-123");
        assert_eq!(data["accessPackage"]["id"], s.package_id.as_str());
        assert_eq!(data["accessPackageCatalog"]["id"], s.catalog_id.as_str());
        assert_eq!(data["assignment"]["id"], s.assignment_id.as_str());
        assert_eq!(
            data["assignment"]["target"]["id"],
            sandbox.persona_id("alex")
        );
        assert_eq!(data["requestor"]["id"], sandbox.persona_id("alex"));
        assert_eq!(data["requestor"]["subjectType"], "user");
        assert!(data["customExtensionId"].is_null());
        stages.push(stage);
        instances.push(
            data["customExtensionStageInstanceId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    stages.sort();
    let mut expected = vec![
        "assignmentRequestCreated",
        "assignmentRequestApproved",
        "assignmentRequestGranted",
        "assignmentFourteenDaysBeforeExpiration",
        "assignmentOneDayBeforeExpiration",
        "assignmentRequestRemoved",
    ];
    expected.sort();
    assert_eq!(stages, expected);
    instances.sort();
    instances.dedup();
    assert_eq!(instances.len(), 6, "every callout has its own instance id");

    let listed = eventually(|| async {
        let c = sandbox.callouts().await;
        (c.len() == 6 && c.iter().all(|d| d["status"] == "delivered")).then_some(c)
    })
    .await;
    assert!(listed.iter().all(|d| d["kind"] == "callout"));
    let config = sandbox
        .http
        .get(sandbox.url("/sim/callouts"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(config.contains("\"secretConfigured\":true"));
    assert!(
        !config.contains(SECRET),
        "the secret never leaves the sandbox"
    );
}

#[tokio::test]
async fn retries_transient_failures_and_stops_on_client_errors() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    point_relay_at(&sandbox, &receiver).await;
    let s = seed_request(&sandbox);
    receiver.answer_next(&[Answer::Status(503)]);
    sandbox.state.world().events.push(SimEvent::RequestCreated {
        request_id: s.request_id.clone(),
    });
    let first = receiver.next().await;
    let pending = eventually(|| async {
        let c = sandbox.callouts().await;
        (c.len() == 1 && c[0]["attempts"].as_array().unwrap().len() == 1).then(|| c[0].clone())
    })
    .await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["policy"], "logicApp");
    let at = chrono::DateTime::parse_from_rfc3339(pending["attempts"][0]["at"].as_str().unwrap())
        .unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(pending["nextAttemptAt"].as_str().unwrap()).unwrap();
    assert_eq!((next - at).num_milliseconds(), 7_500);

    sandbox.advance_clock("PT8S").await;
    let second = receiver.next().await;
    assert_eq!(second.body, first.body, "a retry resends the same callout");
    eventually(|| async {
        let c = sandbox.callouts().await;
        (c[0]["status"] == "delivered").then_some(())
    })
    .await;

    // 401 is not transient: no retry.
    receiver.answer_next(&[Answer::Status(401)]);
    sandbox
        .state
        .world()
        .events
        .push(SimEvent::RequestApproved {
            request_id: s.request_id.clone(),
        });
    receiver.next().await;
    let failed = eventually(|| async {
        let c = sandbox.callouts().await;
        (c.len() == 2 && c[1]["status"] == "failed").then(|| c[1].clone())
    })
    .await;
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(failed["attempts"][0]["status"], 401);
}

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

#[tokio::test]
async fn relay_configuration_is_validated_and_secret_kept() {
    let sandbox = spawn_sandbox().await;
    for body in [
        json!({ "url": "http://127.0.0.1:9/intake" }),
        json!({ "url": "not a url", "secret": "x" }),
        json!({ "url": "http://127.0.0.1:9/intake", "secret": "x", "extra": 1 }),
    ] {
        let response = sandbox
            .http
            .post(sandbox.url("/sim/callouts"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(!response.text().await.unwrap().contains("\"x\""));
    }
    let off = sandbox
        .http
        .post(sandbox.url("/sim/callouts"))
        .json(&json!({ "url": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let config: Value = sandbox
        .http
        .get(sandbox.url("/sim/callouts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["url"], Value::Null);
    assert_eq!(config["secretConfigured"], false);
}
