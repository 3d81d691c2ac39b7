//! Custom-extension callouts as the Logic App relay delivers them; the
//! `customWorkflowExtensions` endpoints and `resume` are in `extensions`.

mod extensions;

use chrono::Duration;
use serde_json::{Value, json};
use stagegate_sandbox::world::{Assignment, AssignmentRequest, SimEvent};

use crate::helpers::{Answer, Handshake, Receiver, TestSandbox, eventually, spawn_sandbox};

const SECRET: &str = "relay-shared-secret";

pub struct Seeded {
    pub request_id: String,
    pub assignment_id: String,
    pub policy_id: String,
    pub catalog_id: String,
    pub package_id: String,
}

/// A delivered global-admin request of Alex's, as the request lifecycle
/// (built elsewhere) would leave it.
pub fn seed_request(sandbox: &TestSandbox) -> Seeded {
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
            created_at: std::time::Instant::now(),
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

pub async fn point_relay_at(sandbox: &TestSandbox, receiver: &Receiver) {
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
