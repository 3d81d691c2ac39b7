//! Emulated Graph subscriptions on `/groups/{id}/members`: validation
//! handshake, limits, permissions. Deliveries are in `notifications`.

mod notifications;

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{Handshake, Receiver, TestSandbox, spawn_sandbox};

pub const GROUP: &str = "grp-elig-globaladmin";

pub fn in_minutes(sandbox: &TestSandbox, minutes: i64) -> String {
    (sandbox.state.clock.now() + Duration::minutes(minutes)).to_rfc3339()
}

/// The docs' create body (change-notifications.md A), pointed at our group
/// and our receiver.
fn create_body(sandbox: &TestSandbox, receiver: &Receiver, minutes: i64) -> Value {
    json!({
        "changeType": "updated",
        "notificationUrl": receiver.url("/notificationClient"),
        "lifecycleNotificationUrl": receiver.url("/api/lifecycleNotifications"),
        "resource": format!("/groups/{}/members", sandbox.group_id(GROUP)),
        "expirationDateTime": in_minutes(sandbox, minutes),
        "clientState": "SecretClientState",
    })
}

async fn post_subscription(sandbox: &TestSandbox, token: &str, body: &Value) -> (u16, Value) {
    let response = sandbox
        .http
        .post(sandbox.graph("/subscriptions"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn subscribe(sandbox: &TestSandbox, receiver: &Receiver, minutes: i64) -> String {
    let token = sandbox.app_token().await;
    let (status, body) =
        post_subscription(sandbox, &token, &create_body(sandbox, receiver, minutes)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn creates_subscription_after_validating_both_endpoints() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let token = sandbox.app_token().await;
    let body = create_body(&sandbox, &receiver, 60 * 24);
    let (status, created) = post_subscription(&sandbox, &token, &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["resource"], body["resource"]);
    assert_eq!(created["changeType"], "updated");
    assert_eq!(created["clientState"], "SecretClientState");
    assert_eq!(created["notificationUrl"], body["notificationUrl"]);
    assert_eq!(
        created["lifecycleNotificationUrl"],
        body["lifecycleNotificationUrl"]
    );
    assert_eq!(created["latestSupportedTlsVersion"], "v1_2");
    assert!(
        created["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#subscriptions/$entity")
    );
    // Both endpoints validated, each with a token that needed URL-decoding.
    let tokens = receiver.validations();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| t.starts_with("Validation: ")));

    let id = created["id"].as_str().unwrap();
    let list: Value = sandbox
        .http
        .get(sandbox.graph("/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"].as_array().unwrap().len(), 1);
    assert_eq!(list["value"][0]["id"], id);
    let one = sandbox
        .http
        .get(sandbox.graph(&format!("/subscriptions/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
}

#[tokio::test]
async fn refuses_when_the_endpoint_fails_the_handshake() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    for (handshake, code, message) in [
        (
            Handshake::WrongToken,
            "ValidationError",
            "Subscription validation request failed. Response must exactly match validationToken query parameter.",
        ),
        (
            Handshake::Status(500),
            "ValidationError",
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
        ),
    ] {
        let receiver = Receiver::start(handshake).await;
        let (status, body) =
            post_subscription(&sandbox, &token, &create_body(&sandbox, &receiver, 60)).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], code);
        assert_eq!(body["error"]["message"], message);
        assert!(body["error"]["innerError"]["request-id"].is_string());
    }
    // Nothing was created.
    let list: Value = sandbox
        .http
        .get(sandbox.graph("/subscriptions"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["value"], json!([]));
}

#[tokio::test]
async fn refuses_when_the_endpoint_answers_too_slowly() {
    let sandbox = spawn_sandbox().await;
    let settings = sandbox
        .http
        .post(sandbox.url("/sim/notifications/settings"))
        .json(&json!({ "validationTimeoutMs": 200 }))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);
    let receiver = Receiver::start(Handshake::Slow(std::time::Duration::from_secs(2))).await;
    let token = sandbox.app_token().await;
    let (status, body) =
        post_subscription(&sandbox, &token, &create_body(&sandbox, &receiver, 60)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "InvalidRequest");
    assert_eq!(
        body["error"]["message"],
        "Subscription validation request timed out."
    );
}

#[tokio::test]
async fn enforces_lifetime_resource_and_field_rules() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let token = sandbox.app_token().await;
    let base = create_body(&sandbox, &receiver, 60);
    let with = |key: &str, value: Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let cases = [
        (
            with("expirationDateTime", json!(in_minutes(&sandbox, 41_761))),
            400,
            "41760 minutes",
        ),
        (
            with("expirationDateTime", json!(in_minutes(&sandbox, -1))),
            400,
            "in the future",
        ),
        (with("resource", json!("/users")), 400, "not supported"),
        (
            with("changeType", json!("created,updated")),
            400,
            "'created'",
        ),
        (with("clientState", json!("x".repeat(129))), 400, "128"),
        (with("clientState", Value::Null), 400, "clientState"),
        (
            with("notificationUrl", json!("https://example.com/hook")),
            400,
            "loopback",
        ),
        (
            with("notificationUrl", json!("ftp://127.0.0.1/hook")),
            400,
            "HTTPS",
        ),
        (with("bogus", json!(1)), 400, "'bogus'"),
        (
            with(
                "resource",
                json!(format!("groups/{}/members", uuid::Uuid::new_v4())),
            ),
            404,
            "does not exist",
        ),
    ];
    for (body, status, fragment) in cases {
        let (got, error) = post_subscription(&sandbox, &token, &body).await;
        assert_eq!(got, status, "{body} → {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(fragment), "{message}");
    }
    // The limit itself is accepted, with or without the leading slash.
    let ok = with("expirationDateTime", json!(in_minutes(&sandbox, 41_759)));
    let ok = {
        let mut b = ok;
        b["resource"] = json!(format!("groups/{}/members", sandbox.group_id(GROUP)));
        b
    };
    assert_eq!(post_subscription(&sandbox, &token, &ok).await.0, 201);
}

#[tokio::test]
async fn needs_read_permission_on_group_members() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let body = create_body(&sandbox, &receiver, 60);
    // Alex's delegated token carries no group read scope.
    let alex = sandbox.user_token("alex", false).await;
    let (status, error) = post_subscription(&sandbox, &alex, &body).await;
    assert_eq!(status, 403);
    assert_eq!(error["error"]["code"], "Authorization_RequestDenied");
    let anonymous = sandbox
        .http
        .post(sandbox.graph("/subscriptions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(receiver.validations().is_empty());
}
