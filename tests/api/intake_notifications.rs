//! `POST /api/graph/notifications`: handshake, clientState authentication,
//! membership changes from the sandbox reaching the engine, bad input.

use serde_json::json;

use crate::intake_support::{Call, Options, chunked_post, spawn_intake};

const GROUP: &str = "grp-elig-globaladmin";

#[tokio::test]
async fn handshake_echoes_the_decoded_token_as_plain_text() {
    let t = spawn_intake(Options::default()).await;
    for path in ["/api/graph/notifications", "/api/graph/lifecycle"] {
        let response = t
            .http
            .post(t.url(&format!(
                "{path}?validationToken=Validation%3A%20Testing%20client%20application%20reachability"
            )))
            .header("content-type", "text/plain; charset=utf-8")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert_eq!(
            response.text().await.unwrap(),
            "Validation: Testing client application reachability"
        );
    }
    let (status, _) = t
        .post_raw("/api/graph/notifications?validationToken=", &[], Vec::new())
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_sandbox_creates_a_subscription_against_the_bot() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        ..Options::default()
    })
    .await;
    let group = t.sandbox.group_id(GROUP);
    let row = crate::helpers::eventually(|| async {
        t.store
            .intake_subscription(&group.parse().unwrap())
            .await
            .unwrap()
    })
    .await;
    let subs = t.sandbox_subscriptions();
    assert_eq!(subs.len(), 1, "{subs:?}");
    let sub = &subs[0];
    assert_eq!(sub.id, row.subscription_id);
    assert_eq!(sub.expiration, row.expires_at);
    assert_eq!(sub.notification_url, t.url("/api/graph/notifications"));
    let lifecycle = t.url("/api/graph/lifecycle");
    assert_eq!(sub.lifecycle_url.as_deref(), Some(lifecycle.as_str()));
    assert_eq!(sub.client_state, t.client_state);
    let lifetime = sub.expiration - t.sandbox.state.clock.now();
    assert!(lifetime > chrono::Duration::minutes(4300), "{lifetime}");
}

#[tokio::test]
async fn subscription_creation_fails_when_the_bot_answers_the_handshake_wrong() {
    let t = spawn_intake(Options::default()).await;
    let token = t.sandbox.app_token().await;
    let group = t.sandbox.group_id(GROUP);
    let body = |url: String| {
        json!({
            "changeType": "updated",
            "notificationUrl": url,
            "resource": format!("/groups/{group}/members"),
            "expirationDateTime": (t.sandbox.state.clock.now() + chrono::Duration::hours(1)).to_rfc3339(),
            "clientState": t.client_state,
        })
    };
    // The callout endpoint answers the handshake 401: no subscription.
    let (status, error) = t
        .sandbox
        .graph_post(
            &token,
            "/subscriptions",
            &body(t.url("/api/graph/callouts")),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "ValidationError");
    // The notification endpoint answers it right.
    let (status, created) = t
        .sandbox
        .graph_post(
            &token,
            "/subscriptions",
            &body(t.url("/api/graph/notifications")),
        )
        .await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn only_notifications_with_the_right_client_state_are_processed() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        ..Options::default()
    })
    .await;
    let group = t.sandbox.group_id(GROUP);
    let (alex, diego, megan) = (
        t.sandbox.persona_id("alex"),
        t.sandbox.persona_id("diego"),
        t.sandbox.persona_id("megan"),
    );
    let right = t.client_state.clone();
    let mut wrong = right.clone();
    wrong.replace_range(..1, if right.starts_with('a') { "b" } else { "a" });

    let n =
        |state: Option<&str>, member: &str| t.membership_notification(state, &group, member, false);
    for (label, body) in [
        ("wrong", json!({ "value": [n(Some(&wrong), &alex)] })),
        ("missing", json!({ "value": [n(None, &alex)] })),
        (
            "mixed",
            json!({ "value": [n(Some(&right), &diego), n(Some(&wrong), &alex)] }),
        ),
        ("empty", json!({ "value": [n(Some(""), &alex)] })),
    ] {
        let (status, text) = t.notify(&body).await;
        assert_eq!(status, 401, "{label}: {text}");
    }
    // Genuine, but about another tenant: accepted and ignored.
    let mut foreign = n(Some(&right), &diego);
    foreign["tenantId"] = json!(uuid::Uuid::new_v4().to_string());
    let (status, text) = t.notify(&json!({ "value": [foreign] })).await;
    assert_eq!(status, 202, "{text}");
    let (status, text) = t
        .notify(&json!({ "value": [n(Some(&right), &megan)] }))
        .await;
    assert_eq!(status, 202, "{text}");

    // The queue is worked in order: had a refused body been processed, its
    // call would come before megan's.
    t.sink.wait_memberships(1).await;
    assert_eq!(
        t.sink.memberships(),
        vec![Call::Membership {
            group: t.group(GROUP),
            member: t.persona("megan"),
            added: true
        }]
    );
}

#[tokio::test]
async fn membership_changes_in_the_sandbox_reach_the_engine() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        ..Options::default()
    })
    .await;
    let group = t.sandbox.group_id(GROUP);
    crate::helpers::eventually(|| async {
        t.store
            .intake_subscription(&group.parse().unwrap())
            .await
            .unwrap()
    })
    .await;
    let other = t.sandbox.group_id("grp-elig-helpdeskadmin");
    let alex = t.sandbox.persona_id("alex");
    {
        let mut world = t.sandbox.state.world();
        // Not watched: never reported.
        world.add_member(&other, &alex);
        world.add_member(&group, &alex);
    }
    t.sink.wait_memberships(1).await;
    t.sandbox.state.world().remove_member(&group, &alex);
    t.sink.wait_memberships(2).await;
    let (g, a) = (t.group(GROUP), t.persona("alex"));
    assert_eq!(
        t.sink.memberships(),
        vec![
            Call::Membership {
                group: g,
                member: a,
                added: true
            },
            Call::Membership {
                group: g,
                member: a,
                added: false
            },
        ]
    );
    let delivered = t.sandbox.notifications(None).await;
    assert!(
        delivered
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"][0]["status"] == 202),
        "{delivered:?}"
    );
}

#[tokio::test]
async fn duplicate_notifications_are_queued_once_and_never_fail() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        ..Options::default()
    })
    .await;
    let group = t.sandbox.group_id(GROUP);
    let alex = t.sandbox.persona_id("alex");
    let mut n = t.membership_notification(Some(&t.client_state), &group, &alex, false);
    n["id"] = json!("lsgTZMr9KwAAA");
    for _ in 0..3 {
        let (status, text) = t.notify(&json!({ "value": [n.clone()] })).await;
        assert_eq!(status, 202, "{text}");
    }
    // A later, different notification: the duplicates would precede it.
    let removal = t.membership_notification(Some(&t.client_state), &group, &alex, true);
    assert_eq!(t.notify(&json!({ "value": [removal] })).await.0, 202);
    t.sink.wait_memberships(2).await;
    let (g, a) = (t.group(GROUP), t.persona("alex"));
    assert_eq!(
        t.sink.memberships(),
        vec![
            Call::Membership {
                group: g,
                member: a,
                added: true
            },
            Call::Membership {
                group: g,
                member: a,
                added: false
            },
        ]
    );
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_4xx() {
    let t = spawn_intake(Options {
        groups: vec![GROUP],
        body_limit_bytes: 4096,
        ..Options::default()
    })
    .await;
    let group = t.sandbox.group_id(GROUP);
    let s = t.client_state.clone();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not json", b"{\"value\": [".to_vec(), 400),
        ("no value", b"{}".to_vec(), 400),
        ("empty value", br#"{"value": []}"#.to_vec(), 400),
        (
            "value not an array",
            br#"{"value": {"clientState": "x"}}"#.to_vec(),
            400,
        ),
        (
            "member id not a GUID",
            json!({ "value": [t.membership_notification(Some(&s), &group, "alex", false)] })
                .to_string()
                .into_bytes(),
            400,
        ),
        (
            "no subscriptionId",
            json!({ "value": [{ "clientState": s, "changeType": "updated" }] })
                .to_string()
                .into_bytes(),
            400,
        ),
        ("oversized", vec![b' '; 5000], 413),
    ];
    for (label, body, expected) in cases {
        let (status, text) = t.post_raw("/api/graph/notifications", &[], body).await;
        assert_eq!(status, expected, "{label}: {text}");
    }
    // Chunked (no Content-Length) and oversized: still 413.
    assert_eq!(
        chunked_post(&t.address, "/api/graph/notifications", &[], 10_000).await,
        413
    );
    assert!(t.sink.memberships().is_empty());
}
