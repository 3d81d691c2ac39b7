//! The emulated Teams as the bot sees it over HTTP: metadata and keys, the
//! connector's token check, swagger validation, Teams' errors and rate
//! limits and injected faults.

use serde_json::{Value, json};

use crate::helpers::spawn_sandbox;
use crate::teams_support::{
    connector_post, connector_token, drive, installed, persona, teams_info,
};

#[tokio::test]
async fn metadata_and_keys_are_shaped_like_bot_frameworks() {
    let sandbox = spawn_sandbox().await;
    let metadata: Value = sandbox
        .http
        .get(sandbox.url("/botframework/v1/.well-known/openidconfiguration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], "https://api.botframework.com");
    assert_eq!(
        metadata["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let jwks_uri = metadata["jwks_uri"].as_str().unwrap();
    assert_eq!(jwks_uri, sandbox.url("/botframework/v1/.well-known/keys"));
    let keys: Value = sandbox
        .http
        .get(jwks_uri)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &keys["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert!(key["n"].is_string() && key["e"].is_string() && key["kid"].is_string());
    assert_eq!(key["endorsements"], json!(["msteams"]));
    // Scripts find the same addresses and ids in /sim/tenant.
    let tenant = sandbox.tenant().await;
    assert_eq!(
        tenant["teams"]["openIdMetadataUrl"],
        sandbox.url("/botframework/v1/.well-known/openidconfiguration")
    );
    assert_eq!(tenant["teams"]["serviceUrl"], sandbox.url("/teams/"));
    let alex = persona(&sandbox, "alex").await;
    let listed = tenant["personas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == "alex")
        .unwrap();
    assert_eq!(listed["teamsUserId"], alex["teamsUserId"]);
    assert!(alex["teamsUserId"].as_str().unwrap().starts_with("29:"));
}

#[tokio::test]
async fn the_connector_checks_the_bots_token() {
    let sandbox = spawn_sandbox().await;
    let conversation = installed(&sandbox, "alex").await;
    let path = format!("/teams/v3/conversations/{conversation}/activities");
    let activity = json!({ "type": "message", "text": "hi" });
    let missing = sandbox
        .http
        .post(sandbox.url(&path))
        .json(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    assert!(missing.headers().contains_key("x-correlating-operationid"));
    let body: Value = missing.json().await.unwrap();
    assert_eq!(
        body["message"],
        "Authorization has been denied for this request."
    );
    // A Graph token is for another audience.
    let graph = sandbox.app_token().await;
    let wrong_audience = sandbox
        .http
        .post(sandbox.url(&path))
        .bearer_auth(graph)
        .json(&activity)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_audience.status(), 401);
    let ok = connector_post(
        &sandbox,
        &format!("/conversations/{conversation}/activities"),
        &activity.to_string(),
    )
    .await;
    assert_eq!(ok.status(), 201);
}

#[tokio::test]
async fn bodies_that_break_the_swagger_or_teams_rules_get_400() {
    let sandbox = spawn_sandbox().await;
    // Refused calls count against the rate limit too, so spread them over
    // several conversations.
    let mut sends = Vec::new();
    for key in ["alex", "miriam", "megan", "bianca"] {
        let conversation = installed(&sandbox, key).await;
        sends.push(format!("/conversations/{conversation}/activities"));
    }
    let send = |i: usize| sends[i % sends.len()].as_str();
    let cases = [
        (send(0), "{not json", "BadSyntax"),
        (send(1), r#"{"type": 5}"#, "BadArgument"),
        (send(2), r#"{"type": "mesage"}"#, "BadArgument"),
        (
            send(3),
            r#"{"type": "message", "attachments": {}}"#,
            "BadArgument",
        ),
        (
            send(0),
            r#"{"type": "message", "timestamp": "today"}"#,
            "BadArgument",
        ),
        (send(1), r#"{"text": "no type"}"#, "BadArgument"),
        (send(2), r#"{"type": "invoke", "name": "x"}"#, "BadArgument"),
        (
            "/conversations",
            r#"{"members": [{"id": "29:x"}]}"#,
            "BadArgument",
        ),
        ("/conversations", r#"{"isGroup": "no"}"#, "BadArgument"),
    ];
    for (path, body, code) in cases {
        let response = connector_post(&sandbox, path, body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let type_error: Value = connector_post(&sandbox, send(3), r#"{"type": "message", "text": 5}"#)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        type_error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("text:")
    );
}

#[tokio::test]
async fn create_conversation_follows_the_proactive_messaging_rules() {
    let sandbox = spawn_sandbox().await;
    let alex = persona(&sandbox, "alex").await;
    let tenant = sandbox.state.tenant_id();
    let app_id = sandbox.state.world().app.client_id.clone();
    let params = |member: Value| {
        json!({ "bot": { "id": format!("28:{app_id}") }, "members": [member],
                "channelData": { "tenant": { "id": tenant } } })
        .to_string()
    };
    let by_teams_id = params(json!({ "id": alex["teamsUserId"] }));
    // Not installed yet: the bot is not in the roster.
    let refused = connector_post(&sandbox, "/conversations", &by_teams_id).await;
    assert_eq!(refused.status(), 403);
    installed(&sandbox, "alex").await;
    let created = connector_post(&sandbox, "/conversations", &by_teams_id).await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["id"], alex["conversationId"]);
    // The Entra object id in `id` works; in `aadObjectId` alone it does not.
    let by_object_id = params(json!({ "id": alex["aadObjectId"] }));
    let again: Value = connector_post(&sandbox, "/conversations", &by_object_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], alex["conversationId"]);
    let only_aad = params(json!({ "aadObjectId": alex["aadObjectId"] }));
    assert_eq!(
        connector_post(&sandbox, "/conversations", &only_aad)
            .await
            .status(),
        400
    );
    let stranger = params(json!({ "id": "29:1nobody" }));
    assert_eq!(
        connector_post(&sandbox, "/conversations", &stranger)
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn teams_errors_come_in_teams_shapes() {
    let sandbox = spawn_sandbox().await;
    let conversation = installed(&sandbox, "alex").await;
    let send = format!("/conversations/{conversation}/activities");
    let unknown = connector_post(
        &sandbox,
        "/conversations/a:1unknown/activities",
        r#"{"type":"message"}"#,
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ConversationNotFound");
    let put = sandbox
        .http
        .put(sandbox.url(&format!(
            "/teams/v3/conversations/{conversation}/activities/123"
        )))
        .bearer_auth(connector_token(&sandbox))
        .json(&json!({ "type": "message", "text": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 404);
    let huge = json!({ "type": "message", "text": "x".repeat(30 * 1024) }).to_string();
    let too_big = connector_post(&sandbox, &send, &huge).await;
    assert_eq!(too_big.status(), 413);
    let body: Value = too_big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "MessageSizeTooBig");
    let (status, _) = drive(&sandbox, "/personas/alex/block", json!({})).await;
    assert_eq!(status, 200);
    let blocked = connector_post(&sandbox, &send, r#"{"type":"message","text":"hi"}"#).await;
    assert_eq!(blocked.status(), 403);
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["errorCode"], 209);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("MessageWritesBlocked")
    );
}

#[tokio::test]
async fn rate_limits_are_enforced_per_conversation_with_retry_after() {
    let sandbox = spawn_sandbox().await;
    let alex = installed(&sandbox, "alex").await;
    let miriam = installed(&sandbox, "miriam").await;
    let send = |c: &str| format!("/conversations/{c}/activities");
    let message = r#"{"type":"message","text":"burst"}"#;
    for _ in 0..7 {
        assert_eq!(
            connector_post(&sandbox, &send(&alex), message)
                .await
                .status(),
            201
        );
    }
    let throttled = connector_post(&sandbox, &send(&alex), message).await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after));
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body["error"]["code"], "Throttled");
    // Another conversation has its own budget.
    assert_eq!(
        connector_post(&sandbox, &send(&miriam), message)
            .await
            .status(),
        201
    );
    assert_eq!(teams_info(&sandbox).await["stats"]["throttled"], 1);
}

#[tokio::test]
async fn injected_faults_answer_the_next_calls() {
    let sandbox = spawn_sandbox().await;
    let alex = installed(&sandbox, "alex").await;
    let send = format!("/conversations/{alex}/activities");
    let message = r#"{"type":"message","text":"x"}"#;
    let (status, _) = drive(&sandbox, "/faults", json!({ "status": 429, "count": 1 })).await;
    assert_eq!(status, 202);
    drive(&sandbox, "/faults", json!({ "status": 412 })).await;
    let first = connector_post(&sandbox, &send, message).await;
    assert_eq!(first.status(), 429);
    assert!(!first.headers().contains_key("retry-after"));
    let second = connector_post(&sandbox, &send, message).await;
    assert_eq!(second.status(), 412);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "PreconditionFailed");
    assert_eq!(connector_post(&sandbox, &send, message).await.status(), 201);
    let (bad, _) = drive(&sandbox, "/faults", json!({ "status": 200 })).await;
    assert_eq!(bad, 400);
}
