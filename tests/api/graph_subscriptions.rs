//! Emulated Graph subscriptions on `/groups/{id}/members`: validation
//! handshake, limits, change notifications, redelivery, lifecycle, renewal.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Answer, Handshake, Receiver, TestSandbox, eventually, spawn_sandbox};

const GROUP: &str = "grp-elig-globaladmin";

fn in_minutes(sandbox: &TestSandbox, minutes: i64) -> String {
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

async fn subscribe(sandbox: &TestSandbox, receiver: &Receiver, minutes: i64) -> String {
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

#[tokio::test]
async fn notifies_member_added_and_removed() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let id = subscribe(&sandbox, &receiver, 60 * 24).await;
    let group = sandbox.group_id(GROUP);
    let other = sandbox.group_id("grp-elig-helpdeskadmin");
    let alex = sandbox.persona_id("alex");
    // A change to another group is not ours.
    assert!(sandbox.state.world().add_member(&other, &alex));
    assert!(sandbox.state.world().add_member(&group, &alex));

    let added = receiver.next().await;
    assert_eq!(added.path, "/notificationClient");
    assert!(
        added.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let n = &added.body["value"][0];
    assert_eq!(added.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(n["subscriptionId"], id.as_str());
    assert_eq!(n["changeType"], "updated");
    assert_eq!(n["clientState"], "SecretClientState");
    assert_eq!(n["tenantId"], sandbox.state.tenant_id());
    assert_eq!(n["resource"], format!("Groups/{group}"));
    assert_eq!(n["resourceData"]["@odata.type"], "#Microsoft.Graph.Group");
    assert_eq!(n["resourceData"]["@odata.id"], format!("Groups/{group}"));
    assert_eq!(n["resourceData"]["id"], group.as_str());
    assert_eq!(n["resourceData"]["members@delta"], json!([{ "id": alex }]));
    assert!(n["subscriptionExpirationDateTime"].is_string());

    assert!(sandbox.state.world().remove_member(&group, &alex));
    let removed = receiver.next().await;
    assert_eq!(
        removed.body["value"][0]["resourceData"]["members@delta"],
        json!([{ "id": alex, "@removed": "deleted" }])
    );
}

#[tokio::test]
async fn redelivers_until_the_endpoint_answers_2xx() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .http
        .post(sandbox.url("/sim/notifications/settings"))
        .json(&json!({ "notificationTimeoutMs": 300 }))
        .send()
        .await
        .unwrap();
    let receiver = Receiver::start(Handshake::Echo).await;
    let id = subscribe(&sandbox, &receiver, 60 * 24).await;
    receiver.answer_next(&[
        Answer::Status(500),
        Answer::Slow(std::time::Duration::from_secs(2)),
    ]);
    let (group, diego) = (sandbox.group_id(GROUP), sandbox.persona_id("diego"));
    // (Ids first: the world lock is not reentrant.)
    sandbox.state.world().add_member(&group, &diego);

    let first = receiver.next().await;
    let pending = eventually(|| async {
        let d = sandbox.notifications(Some(&id)).await;
        (d.len() == 1 && d[0]["attempts"].as_array().unwrap().len() == 1).then(|| d[0].clone())
    })
    .await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["attempts"][0]["status"], 500);
    let at = chrono::DateTime::parse_from_rfc3339(pending["attempts"][0]["at"].as_str().unwrap())
        .unwrap();
    let next =
        chrono::DateTime::parse_from_rfc3339(pending["nextAttemptAt"].as_str().unwrap()).unwrap();
    assert_eq!((next - at).num_minutes(), 1);

    // Retries follow the emulated clock: no real minute passes.
    sandbox.advance_clock("PT1M").await;
    let second = receiver.next().await;
    assert_eq!(second.body, first.body);
    // The second answer is too slow (> 300 ms), so it is retried 2 min later.
    let slow = eventually(|| async {
        let d = sandbox.notifications(Some(&id)).await;
        (d[0]["attempts"].as_array().unwrap().len() == 2).then(|| d[0].clone())
    })
    .await;
    assert!(slow["attempts"][1]["status"].is_null());
    assert!(
        slow["attempts"][1]["error"]
            .as_str()
            .unwrap()
            .contains("300 ms")
    );
    sandbox.advance_clock("PT2M").await;
    let third = receiver.next().await;
    assert_eq!(third.body, first.body);
    let delivered = eventually(|| async {
        let d = sandbox.notifications(Some(&id)).await;
        (d[0]["status"] == "delivered").then(|| d[0].clone())
    })
    .await;
    assert_eq!(delivered["attempts"].as_array().unwrap().len(), 3);
    assert!(delivered["nextAttemptAt"].is_null());
}

#[tokio::test]
async fn gives_up_redelivery_after_four_hours() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let id = subscribe(&sandbox, &receiver, 60 * 24).await;
    receiver.answer_next(&[Answer::Status(503); 2]);
    let (group, lee) = (sandbox.group_id(GROUP), sandbox.persona_id("lee"));
    sandbox.state.world().add_member(&group, &lee);
    receiver.next().await;
    eventually(|| async {
        let d = sandbox.notifications(Some(&id)).await;
        (d[0]["attempts"].as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    // Five hours later the retry still runs once, then Graph gives up: the
    // next one would fall outside the four-hour window.
    sandbox.advance_clock("PT5H").await;
    receiver.next().await;
    let failed = eventually(|| async {
        let d = sandbox.notifications(Some(&id)).await;
        (d[0]["status"] == "failed").then(|| d[0].clone())
    })
    .await;
    assert_eq!(failed["attempts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn challenges_before_expiry_then_removes() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let id = subscribe(&sandbox, &receiver, 120).await;
    let token = sandbox.app_token().await;

    sandbox.advance_clock("PT61M").await;
    let challenge = receiver.next().await;
    assert_eq!(challenge.path, "/api/lifecycleNotifications");
    let n = &challenge.body["value"][0];
    assert_eq!(n["lifecycleEvent"], "reauthorizationRequired");
    assert_eq!(n["subscriptionId"], id.as_str());
    assert_eq!(n["clientState"], "SecretClientState");
    assert_eq!(n["tenantId"], sandbox.state.tenant_id());
    assert!(n["subscriptionExpirationDateTime"].is_string());

    let reauthorized = sandbox
        .http
        .post(sandbox.graph(&format!("/subscriptions/{id}/reauthorize")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reauthorized.status(), 204);

    sandbox.advance_clock("PT50M").await;
    let again = receiver.next().await;
    assert_eq!(
        again.body["value"][0]["lifecycleEvent"],
        "reauthorizationRequired"
    );

    sandbox.advance_clock("PT10M").await;
    let removed = receiver.next().await;
    assert_eq!(
        removed.body["value"][0]["lifecycleEvent"],
        "subscriptionRemoved"
    );
    let gone = sandbox
        .http
        .get(sandbox.graph(&format!("/subscriptions/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn renewal_extends_the_subscription_and_delete_ends_it() {
    let sandbox = spawn_sandbox().await;
    let receiver = Receiver::start(Handshake::Echo).await;
    let id = subscribe(&sandbox, &receiver, 120).await;
    let token = sandbox.app_token().await;
    let url = sandbox.graph(&format!("/subscriptions/{id}"));

    let too_far = sandbox
        .http
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "expirationDateTime": in_minutes(&sandbox, 41_761) }))
        .send()
        .await
        .unwrap();
    assert_eq!(too_far.status(), 400);

    // The docs' renew body, with a date two days ahead.
    let renewed_until = (Utc::now() + sandbox.state.clock.offset() + Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%S.0000000Z")
        .to_string();
    let renewed = sandbox
        .http
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "expirationDateTime": renewed_until }))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);
    let body: Value = renewed.json().await.unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(body["expirationDateTime"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&renewed_until).unwrap()
    );

    // Past the original expiry: still there, and never challenged.
    sandbox.advance_clock("PT3H").await;
    let still = sandbox
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), 200);
    assert!(sandbox.notifications(Some(&id)).await.is_empty());

    let deleted = sandbox
        .http
        .delete(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = sandbox
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}
