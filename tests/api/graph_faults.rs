//! Fault injection on the emulated Graph: throttling, outages, slow answers.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};

#[tokio::test]
async fn throttles_with_retry_after_until_the_count_is_spent() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    sandbox
        .add_fault(json!({ "path": "/subscriptions", "status": 429, "retryAfter": 7, "count": 2 }))
        .await;
    for _ in 0..2 {
        let response = sandbox
            .http
            .get(sandbox.graph("/subscriptions"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        assert!(response.headers().contains_key("request-id"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "TooManyRequests");
        assert_eq!(body["error"]["message"], "Please retry again later.");
        assert!(body["error"]["innerError"]["date"].is_string());
    }
    let third = sandbox
        .http
        .get(sandbox.graph("/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 200);
    let listed = sandbox.faults().await;
    assert_eq!(listed[0]["hits"], 2);
    assert_eq!(listed[0]["spent"], true);
}

#[tokio::test]
async fn outages_match_by_method_and_glob() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.user_token("bianca", true).await;
    let catalog = sandbox
        .state
        .world()
        .catalogs
        .keys()
        .next()
        .unwrap()
        .clone();
    let path = format!(
        "/identityGovernance/entitlementManagement/catalogs/{catalog}/customWorkflowExtensions"
    );
    sandbox.add_fault(json!({ "path": "/identityGovernance/*/customWorkflowExtensions", "method": "POST", "status": 503 }),
    )
    .await;
    sandbox
        .add_fault(json!({ "path": "/subscriptions", "status": 504, "count": 1 }))
        .await;

    let post = sandbox
        .http
        .post(sandbox.graph(&path))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 503);
    assert!(post.headers().get("retry-after").is_none());
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ServiceUnavailable");
    let get = sandbox
        .http
        .get(sandbox.graph(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "GET is not matched by a POST rule");

    let timeout = sandbox
        .http
        .get(sandbox.graph("/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(timeout.status(), 504);
    let body: Value = timeout.json().await.unwrap();
    assert_eq!(body["error"]["code"], "GatewayTimeout");
}

#[tokio::test]
async fn slow_answers_are_delayed_then_served() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    sandbox
        .add_fault(json!({ "path": "/subscriptions", "delayMs": 400, "count": 1 }))
        .await;
    let started = Instant::now();
    let slow = sandbox
        .http
        .get(sandbox.graph("/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        slow.status(),
        200,
        "a delay-only rule serves the real answer"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    let listed = sandbox.faults().await;
    assert_eq!(listed[0]["hits"], 1);
    assert_eq!(listed[0]["spent"], true);
}

/// A `$batch` of two `GET /subscriptions`; the whole batch answers 200.
async fn two_subscription_reads(sandbox: &TestSandbox, token: &str) -> Value {
    let response = sandbox
        .http
        .post(sandbox.graph("/$batch"))
        .bearer_auth(token)
        .json(&json!({ "requests": [
            { "id": "1", "method": "GET", "url": "/subscriptions" },
            { "id": "2", "method": "GET", "url": "/subscriptions" },
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn batch_sub_requests_are_throttled_one_by_one() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    sandbox
        .add_fault(json!({ "path": "/subscriptions", "status": 429, "count": 1 }))
        .await;
    let body = two_subscription_reads(&sandbox, &token).await;
    let responses = body["responses"].as_array().unwrap();
    assert_eq!(responses[0]["status"], 429);
    assert_eq!(responses[0]["headers"]["Retry-After"], "10");
    assert_eq!(responses[0]["body"]["error"]["code"], "TooManyRequests");
    assert_eq!(responses[1]["status"], 200);
}

/// A dropped backend connection inside a batch is that sub-request's
/// gateway timeout, never a 2xx without a body (the bot once read such a
/// "user" as `null`).
#[tokio::test]
async fn a_reset_inside_a_batch_is_a_gateway_timeout() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    sandbox
        .add_fault(json!({ "path": "/subscriptions", "reset": true, "count": 1 }))
        .await;
    let body = two_subscription_reads(&sandbox, &token).await;
    let responses = body["responses"].as_array().unwrap();
    assert_eq!(responses[0]["status"], 504, "{body}");
    assert_eq!(responses[0]["body"]["error"]["code"], "GatewayTimeout");
    assert_eq!(responses[1]["status"], 200);
}

#[tokio::test]
async fn bad_rules_are_refused_and_delete_clears() {
    let sandbox = spawn_sandbox().await;
    for rule in [
        json!({ "path": "/users", "status": 404 }),
        json!({ "path": "users", "status": 429 }),
        json!({ "path": "/users" }),
        json!({ "path": "/users", "status": 503, "probability": 2.0 }),
        json!({ "path": "/users", "status": 503, "count": 0 }),
        json!({ "path": "/users", "status": 503, "color": "red" }),
    ] {
        let response = sandbox
            .http
            .post(sandbox.url("/sim/faults"))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{rule}");
    }
    sandbox
        .add_fault(json!({ "path": "/", "status": 503, "probability": 0.5 }))
        .await;
    assert_eq!(sandbox.faults().await.len(), 1);
    sandbox.clear_faults().await;
    assert!(sandbox.faults().await.is_empty());
}

#[tokio::test]
async fn reset_drops_the_connection_without_an_answer() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    sandbox
        .add_fault(
            json!({ "service": "graph", "path": "/subscriptions", "reset": true, "count": 1 }),
        )
        .await;
    let broken = async {
        let response = sandbox
            .http
            .get(sandbox.graph("/subscriptions"))
            .bearer_auth(&token)
            .send()
            .await?;
        response.bytes().await
    }
    .await;
    assert!(broken.is_err(), "no complete answer: {broken:?}");
    let again = sandbox
        .http
        .get(sandbox.graph("/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the rule is spent");
}

#[tokio::test]
async fn teams_and_slack_statuses_are_their_own() {
    let sandbox = spawn_sandbox().await;
    for (service, status) in [
        ("teams", 412),
        ("teams", 502),
        ("slack", 500),
        ("slack", 429),
    ] {
        sandbox
            .add_fault(json!({ "service": service, "path": "/", "status": status }))
            .await;
    }
    let refused = sandbox
        .http
        .post(sandbox.url("/sim/faults"))
        .json(&json!({ "service": "slack", "path": "/", "status": 503 }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(sandbox.faults().await.len(), 4);
}
