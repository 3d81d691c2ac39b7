//! `POST /api/graph/callouts`: the relay's shared secret, the callout format,
//! bad input, duplicates, and the sandbox's relay end to end.

use serde_json::json;
use stagegate::engine::intake::{Cause, CustomExtensionStage};

use crate::intake_support::{Call, Options, callout_body, chunked_post, spawn_intake};

fn callout(request: &str, stage: CustomExtensionStage) -> Call {
    Call::Reconcile(request.parse().unwrap(), Cause::Callout { stage })
}

#[tokio::test]
async fn only_callouts_with_the_right_secret_are_processed() {
    let t = spawn_intake(Options::default()).await;
    let first = uuid::Uuid::new_v4().to_string();
    let second = uuid::Uuid::new_v4().to_string();
    let body = callout_body(&first, "assignmentRequestCreated");
    let mut wrong = t.callout_secret.clone();
    wrong.pop();
    for (label, secret) in [
        ("wrong", Some(wrong.as_str())),
        ("missing", None),
        ("empty", Some("")),
        ("longer", Some(&*format!("{}x", t.callout_secret))),
    ] {
        let (status, text) = t.callout(secret, &body).await;
        assert_eq!(status, 401, "{label}: {text}");
    }
    // Authentication comes before parsing: garbage with a wrong secret is 401.
    let (status, _) = t
        .post_raw(
            "/api/graph/callouts",
            &[("X-Stagegate-Relay-Secret", "nope")],
            b"{".to_vec(),
        )
        .await;
    assert_eq!(status, 401);

    let granted = callout_body(&second, "assignmentRequestGranted");
    let (status, text) = t.callout(Some(&t.callout_secret), &granted).await;
    assert_eq!(status, 202, "{text}");
    let calls = t
        .sink
        .wait_until("the callout", |c| {
            c.iter().any(|c| matches!(c, Call::Reconcile(..)))
        })
        .await;
    let reconciles: Vec<Call> = calls
        .into_iter()
        .filter(|c| matches!(c, Call::Reconcile(..)))
        .collect();
    assert_eq!(
        reconciles,
        vec![callout(
            &second,
            CustomExtensionStage::AssignmentRequestGranted
        )]
    );
}

#[tokio::test]
async fn malformed_and_oversized_callouts_get_4xx_never_5xx() {
    let t = spawn_intake(Options {
        body_limit_bytes: 2048,
        ..Options::default()
    })
    .await;
    let secret = t.callout_secret.clone();
    let header = [("X-Stagegate-Relay-Secret", secret.as_str())];
    let id = uuid::Uuid::new_v4().to_string();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not json", b"{\"data\":".to_vec(), 400),
        ("empty body", Vec::new(), 400),
        ("array", b"[]".to_vec(), 400),
        ("no request id", json!({ "data": { "stage": "assignmentRequestCreated" } }).to_string().into_bytes(), 400),
        ("bad request id", json!({ "data": { "accessPackageAssignmentRequestId": "42", "stage": "assignmentRequestCreated" } }).to_string().into_bytes(), 400),
        ("no stage", json!({ "data": { "accessPackageAssignmentRequestId": id } }).to_string().into_bytes(), 400),
        ("data not an object", json!({ "data": "x" }).to_string().into_bytes(), 400),
        ("oversized", vec![b' '; 3000], 413),
    ];
    for (label, body, expected) in cases {
        let (status, text) = t.post_raw("/api/graph/callouts", &header, body).await;
        assert_eq!(status, expected, "{label}: {text}");
        if expected == 400 {
            let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(problem["status"], 400);
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| !d.contains(&secret))
            );
        }
    }
    assert_eq!(
        chunked_post(&t.address, "/api/graph/callouts", &header, 5000).await,
        413
    );
    assert_eq!(
        chunked_post(&t.address, "/api/graph/callouts", &[], 5000).await,
        401
    );
    t.intake.poll_now();
    let calls = t
        .sink
        .wait_until("a poll", |c| c.contains(&Call::ReconcileOpen))
        .await;
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Reconcile(..))),
        "{calls:?}"
    );
}

#[tokio::test]
async fn duplicate_callouts_are_each_reconciled() {
    let t = spawn_intake(Options::default()).await;
    let id = uuid::Uuid::new_v4().to_string();
    let body = callout_body(&id, "assignmentRequestApproved");
    for _ in 0..3 {
        let (status, text) = t.callout(Some(&t.callout_secret), &body).await;
        assert_eq!(status, 202, "{text}");
    }
    let calls = t
        .sink
        .wait_until("three reconciles", |c| {
            c.iter()
                .filter(|c| matches!(c, Call::Reconcile(..)))
                .count()
                >= 3
        })
        .await;
    let expected = callout(&id, CustomExtensionStage::AssignmentRequestApproved);
    assert!(
        calls
            .iter()
            .filter(|c| matches!(c, Call::Reconcile(..)))
            .all(|c| *c == expected)
    );
}

#[tokio::test]
async fn accepted_callouts_are_handed_over_before_shutdown_completes() {
    let t = spawn_intake(Options {
        start: false,
        ..Options::default()
    })
    .await;
    let ids: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for id in &ids {
        let (status, _) = t
            .callout(
                Some(&t.callout_secret),
                &callout_body(id, "assignmentRequestCreated"),
            )
            .await;
        assert_eq!(status, 202);
    }
    let workers = t.intake.start();
    workers.shutdown(std::time::Duration::from_secs(10)).await;
    let reconciled: Vec<Call> = t
        .sink
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::Reconcile(..)))
        .collect();
    let expected: Vec<Call> = ids
        .iter()
        .map(|id| callout(id, CustomExtensionStage::AssignmentRequestCreated))
        .collect();
    assert_eq!(reconciled, expected);
}

#[tokio::test]
async fn the_sandbox_relay_delivers_request_callouts_to_the_engine() {
    let t = spawn_intake(Options::default()).await;
    let response = t
        .http
        .post(t.sandbox.url("/sim/callouts"))
        .json(&json!({ "url": t.url("/api/graph/callouts"), "secret": t.callout_secret }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let request = t.sandbox.submit("alex", "global-admin").await;
    let expected = callout(&request, CustomExtensionStage::AssignmentRequestCreated);
    t.sink
        .wait_until("the created callout", |c| c.contains(&expected))
        .await;
    let created = crate::helpers::eventually(|| async {
        t.sandbox
            .callouts()
            .await
            .into_iter()
            .find(|d| d["stage"] == "assignmentRequestCreated" && d["status"] == "delivered")
    })
    .await;
    assert_eq!(created["attempts"][0]["status"], 202);
}
