//! The emulated `users.lookupByEmail`, as Slack documents it
//! (`../shared/slack/web-api-ref/users.lookupByEmail.json`,
//! facts/slack.md): `email` by GET query, POST form or POST JSON; scope
//! `users:read.email`; `users_not_found`; deactivated members found with
//! `deleted: true`; Tier 3 (50 a minute).

use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::slack_support::{driver, raw_call, slack_of};

async fn token_with(sandbox: &TestSandbox, scopes: &[&str]) -> String {
    let r = driver(sandbox, "/tokens", json!({ "scopes": scopes })).await;
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn lookup_by_email_finds_members_by_any_encoding_and_refuses_as_slack_does() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let miriam = slack["users"]["miriam"]["userId"].as_str().unwrap();

    // POST JSON (Bearer), case-insensitive.
    let found = raw_call(
        &sandbox,
        token,
        "users.lookupByEmail",
        json!({ "email": "Miriam@Contoso.example" }),
    )
    .await;
    assert_eq!(found["ok"], true, "{found}");
    assert_eq!(found["user"]["id"], miriam);
    assert_eq!(found["user"]["team_id"], slack["teamId"]);
    assert_eq!(found["user"]["deleted"], false);
    assert_eq!(found["user"]["profile"]["email"], "miriam@contoso.example");

    // GET query with `token=` (slack-morphism's way), and POST form.
    let url = sandbox.url("/slack/api/users.lookupByEmail");
    let by_get: Value = sandbox
        .http
        .get(format!(
            "{url}?token={token}&email=miriam%40contoso.example"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_get["user"]["id"], miriam, "{by_get}");
    let by_form: Value = sandbox
        .http
        .post(&url)
        .form(&[("token", token), ("email", "miriam@contoso.example")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_form["user"]["id"], miriam, "{by_form}");

    // Unknown address (plural error, as Slack spells it), none given, no
    // token, a bad token.
    let none = raw_call(
        &sandbox,
        token,
        "users.lookupByEmail",
        json!({ "email": "nobody@contoso.example" }),
    )
    .await;
    assert_eq!(none, json!({ "ok": false, "error": "users_not_found" }));
    let missing = raw_call(&sandbox, token, "users.lookupByEmail", json!({})).await;
    assert_eq!(missing["error"], "invalid_arguments", "{missing}");
    let unauthed: Value = sandbox
        .http
        .post(&url)
        .form(&[("email", "miriam@contoso.example")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unauthed["error"], "not_authed");
    let bad = raw_call(
        &sandbox,
        "xoxb-not-a-token",
        "users.lookupByEmail",
        json!({ "email": "miriam@contoso.example" }),
    )
    .await;
    assert_eq!(bad["error"], "invalid_auth");

    // Deactivated members are found, marked deleted.
    let disabled = raw_call(
        &sandbox,
        token,
        "users.lookupByEmail",
        json!({ "email": "nestor@contoso.example" }),
    )
    .await;
    assert_eq!(disabled["ok"], true, "{disabled}");
    assert_eq!(disabled["user"]["deleted"], true);
}

#[tokio::test]
async fn lookup_by_email_needs_users_read_email() {
    let sandbox = spawn_sandbox().await;
    let token = token_with(&sandbox, &["chat:write", "users:read"]).await;
    let refused = raw_call(
        &sandbox,
        &token,
        "users.lookupByEmail",
        json!({ "email": "miriam@contoso.example" }),
    )
    .await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["error"], "missing_scope");
    assert_eq!(refused["needed"], "users:read.email");
    assert_eq!(refused["provided"], "chat:write,users:read");
}

#[tokio::test]
async fn lookup_by_email_is_tier_3() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let url = sandbox.url("/slack/api/users.lookupByEmail");
    let call = || {
        sandbox
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&json!({ "email": "miriam@contoso.example" }))
            .send()
    };
    for i in 0..50 {
        let r = call().await.unwrap();
        assert_eq!(r.status(), 200, "call {i} is inside 50 a minute");
    }
    let over = call().await.unwrap();
    assert_eq!(over.status(), 429);
    let wait: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body, json!({ "ok": false, "error": "ratelimited" }));
}
