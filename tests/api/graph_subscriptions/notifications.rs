//! Change notifications, redelivery, lifecycle notifications and renewal.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::{GROUP, in_minutes, subscribe};
use crate::helpers::{Answer, Handshake, Receiver, eventually, spawn_sandbox};

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
