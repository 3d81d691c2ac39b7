//! Nothing silent: a Teams message from another tenant, or whose
//! `aadObjectId` is not a GUID (the Agents Playground's default user), is
//! answered 200 and told why in its conversation — never an empty 400.

use serde_json::{Value, json};

use crate::teams_adapter_support::{TeamsApp, card_text, spawn_teams_app, spawn_teams_app_with};

/// A personal-chat message in `key`'s chat, with `tenant` and `aad` as
/// the sender's, signed unless the bot is in dev mode (the Playground
/// signs nothing); returns the bot's HTTP status.
async fn message_as(app: &TeamsApp, key: &str, tenant: &str, aad: &str, text: &str) -> u16 {
    use stagegate_sandbox::teams::{bot_id, personal_conversation_id};
    let (app_id, chat_aad) = {
        let world = app.sandbox.state.world();
        let user = world.user_by_key(key).unwrap();
        (world.app.client_id.clone(), user.id.clone())
    };
    let service_url = format!("{}/teams/", app.sandbox.base_url);
    let activity = json!({
        "type": "message", "id": format!("f:{}", uuid::Uuid::new_v4()),
        "serviceUrl": service_url, "channelId": "msteams", "text": text,
        "from": { "id": "29:stranger", "name": "Stranger", "aadObjectId": aad },
        "conversation": { "conversationType": "personal", "tenantId": tenant,
                          "id": personal_conversation_id(&app_id, &chat_aad) },
        "recipient": { "id": bot_id(&app_id) },
        "channelData": { "tenant": { "id": tenant } },
    });
    let token = app.sandbox.state.teams.channel_token(&app_id, &service_url);
    let mut post = app
        .sandbox
        .http
        .post(format!("{}/api/teams/messages", app.address))
        .json(&activity);
    if !app.bot.dev_no_auth {
        post = post.bearer_auth(token);
    }
    post.send().await.unwrap().status().as_u16()
}

async fn said_to(app: &TeamsApp, key: &str) -> Vec<String> {
    app.cards(key)
        .await
        .iter()
        .map(|(_, c): &(String, Value)| card_text(c))
        .collect()
}

#[tokio::test]
async fn a_sender_whose_aad_object_id_is_not_a_guid_is_told_why() {
    let app = spawn_teams_app().await;
    app.install("alex").await;
    let tenant = app.sandbox.state.world().tenant_id.clone();
    let status = message_as(
        &app,
        "alex",
        &tenant,
        "00000000-0000-0000-0000-0000000000020",
        "help",
    )
    .await;
    assert_eq!(status, 200);
    let said = said_to(&app, "alex").await;
    assert!(
        said.iter()
            .any(|t| t.contains("not a Microsoft Entra object id")),
        "{said:?}"
    );
}

/// Signed activities from another tenant are refused (401) before this;
/// in dev mode (the Playground) nothing is signed, so the bot checks.
#[tokio::test]
async fn a_sender_from_another_tenant_is_told_why() {
    let app = spawn_teams_app_with(|s| s.teams.as_mut().unwrap().dev_no_auth = true).await;
    app.install("alex").await;
    let status = message_as(
        &app,
        "alex",
        "11111111-2222-3333-4444-555555555555",
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "help",
    )
    .await;
    assert_eq!(status, 200);
    let said = said_to(&app, "alex").await;
    assert!(
        said.iter().any(|t| t.contains("another organisation")),
        "{said:?}"
    );
}

#[tokio::test]
async fn a_click_from_a_sender_whose_id_is_not_a_guid_is_answered_with_a_card() {
    use crate::teams_adapter_support::execute;
    let app = spawn_teams_app().await;
    app.install("alex").await;
    let (app_id, tenant, chat_aad) = {
        let world = app.sandbox.state.world();
        let alex = world.user_by_key("alex").unwrap();
        (
            world.app.client_id.clone(),
            world.tenant_id.clone(),
            alex.id.clone(),
        )
    };
    let service_url = format!("{}/teams/", app.sandbox.base_url);
    let value = execute(
        "approve",
        json!({ "request": uuid::Uuid::new_v4().to_string(),
                "stage": uuid::Uuid::new_v4().to_string(), "justification": "ok" }),
    );
    let activity = json!({
        "type": "invoke", "name": "adaptiveCard/action", "id": "f:stranger-click",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": { "id": "29:stranger", "aadObjectId": "00000000-0000-0000-0000-0000000000020" },
        "conversation": { "conversationType": "personal", "tenantId": tenant,
            "id": stagegate_sandbox::teams::personal_conversation_id(&app_id, &chat_aad) },
        "recipient": { "id": stagegate_sandbox::teams::bot_id(&app_id) },
        "channelData": { "tenant": { "id": tenant } },
        "value": value["value"],
    });
    let response = app.post_signed(&activity).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "application/vnd.microsoft.card.adaptive");
    assert!(
        card_text(&body["value"]).contains("not a Microsoft Entra object id"),
        "{body}"
    );
}

/// A well-formed object id of this tenant that the directory does not
/// know (Graph `GET /users/{id}` answers 404): told so, not acted for.
#[tokio::test]
async fn a_sender_the_directory_does_not_know_is_told_why() {
    let app = spawn_teams_app().await;
    app.install("alex").await;
    let tenant = app.sandbox.state.world().tenant_id.clone();
    let unknown = "6b1f3c2a-9d8e-4f7a-b5c4-3e2d1f0a9b8c";
    assert!(app.sandbox.state.world().user(unknown).is_none());
    let status = message_as(&app, "alex", &tenant, unknown, "help").await;
    assert_eq!(status, 200);
    let said = said_to(&app, "alex").await;
    assert!(
        said.iter()
            .any(|t| t.contains("can't find you in this organisation's directory")),
        "{said:?}"
    );
    assert!(
        !said.iter().any(|t| t.contains("How to use stagegate")),
        "acted for a stranger: {said:?}"
    );
    // A click from them is answered with the reason on a card, too.
    let (app_id, chat_aad) = {
        let world = app.sandbox.state.world();
        (
            world.app.client_id.clone(),
            world.user_by_key("alex").unwrap().id.clone(),
        )
    };
    let activity = json!({
        "type": "invoke", "name": "adaptiveCard/action", "id": "f:unknown-click",
        "serviceUrl": format!("{}/teams/", app.sandbox.base_url), "channelId": "msteams",
        "from": { "id": "29:unknown", "aadObjectId": unknown },
        "conversation": { "conversationType": "personal", "tenantId": tenant,
            "id": stagegate_sandbox::teams::personal_conversation_id(&app_id, &chat_aad) },
        "recipient": { "id": stagegate_sandbox::teams::bot_id(&app_id) },
        "channelData": { "tenant": { "id": tenant } },
        "value": crate::teams_adapter_support::execute(
            "approve",
            json!({ "request": uuid::Uuid::new_v4().to_string(),
                    "stage": uuid::Uuid::new_v4().to_string(), "justification": "ok" }),
        )["value"],
    });
    let response = app.post_signed(&activity).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(
        card_text(&body["value"]).contains("can't find you in this organisation's directory"),
        "{body}"
    );
}
