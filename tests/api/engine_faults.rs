//! Bursts of Graph 429s (the sandbox's fault injection) are absorbed: the
//! engine's Graph client waits out `Retry-After` and the request still
//! reaches its first approver exactly once.

use serde_json::{Value, json};

use crate::engine_support::{live_cards, spawn_engine_app};

#[tokio::test]
async fn graph_throttling_bursts_are_absorbed() {
    let app = spawn_engine_app().await;
    let sandbox = &app.sandbox;
    app.link("alex").await;
    let rule = sandbox
        .http
        .post(sandbox.url("/sim/faults"))
        .json(&json!({
            "path": "/identityGovernance/*",
            "status": 429,
            "retryAfter": 1,
            "count": 3
        }))
        .send()
        .await
        .unwrap();
    assert!(rule.status().is_success());

    let id = app
        .request(
            "alex",
            "request global-admin INC-42 rotate the break-glass certificate",
        )
        .await;
    app.settle().await;
    assert_eq!(app.card_holders(&id, 1), vec!["miriam"]);
    let miriam = live_cards(&app.inbox("miriam"));
    assert_eq!(miriam.iter().filter(|c| c.request == id).count(), 1);

    let faults: Value = sandbox
        .http
        .get(sandbox.url("/sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(faults.to_string().contains("\"hits\":3"), "{faults}");
}
