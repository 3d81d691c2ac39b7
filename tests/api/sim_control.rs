use serde_json::Value;

use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn tenant_lists_personas_packages_and_app() {
    let sandbox = spawn_sandbox().await;
    let tenant = sandbox.tenant().await;
    assert_eq!(tenant["tenantId"], "7d1c2c55-0b6f-4c39-9a8e-5e0c6d1f2a10");
    let keys: Vec<&str> = tenant["personas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    for key in ["alex", "miriam", "bianca", "adele"] {
        assert!(keys.contains(&key), "{key} missing");
    }
    let aliases: Vec<&str> = tenant["accessPackages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["alias"].as_str().unwrap())
        .collect();
    assert!(aliases.contains(&"global-admin") && aliases.contains(&"priv-role-admin"));
    assert!(tenant["app"]["clientSecret"].is_string());
}

#[tokio::test]
async fn clock_advances_by_iso_duration_and_refuses_garbage() {
    let sandbox = spawn_sandbox().await;
    let before: Value = sandbox
        .http
        .get(sandbox.url("/sim/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before["offset"], "PT0S");
    sandbox.advance_clock("P1DT2H").await;
    let after: Value = sandbox
        .http
        .get(sandbox.url("/sim/clock"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["offset"], "P1DT2H");
    let bad = sandbox
        .http
        .post(sandbox.url("/sim/clock/advance"))
        .json(&serde_json::json!({ "duration": "tomorrow" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn tokens_are_minted_for_enabled_personas_only() {
    let sandbox = spawn_sandbox().await;
    let ok = sandbox
        .http
        .post(sandbox.url("/sim/tokens"))
        .json(&serde_json::json!({ "persona": "alex", "mfa": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let disabled = sandbox
        .http
        .post(sandbox.url("/sim/tokens"))
        .json(&serde_json::json!({ "persona": "nestor" }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 403);
    let unconsented = sandbox
        .http
        .post(sandbox.url("/sim/tokens"))
        .json(&serde_json::json!({ "persona": "alex", "scopes": ["Directory.ReadWrite.All"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(unconsented.status(), 400);
}

#[tokio::test]
async fn graph_refuses_missing_and_forged_tokens_in_graph_shape() {
    let sandbox = spawn_sandbox().await;
    let none = sandbox
        .http
        .get(sandbox.graph("/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("request-id"));
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    assert!(body["error"]["innerError"]["date"].is_string());

    // A token from another sandbox (another signing key) is refused.
    let other = spawn_sandbox().await;
    let foreign = other.user_token("alex", false).await;
    let forged = sandbox
        .http
        .get(sandbox.graph("/users"))
        .bearer_auth(foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}
