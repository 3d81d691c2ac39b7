//! The bot's Bot Connector client against the emulated connector: one token
//! for many concurrent sends, retries on 429 / 412 / 5xx, typed errors
//! without retries on 403 / 404 / 413, and pacing that never provokes 429.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stagegate::chat::teams::activity::ChannelAccount;
use stagegate::chat::teams::{OutgoingActivity, TeamsError};
use stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID;
use tokio::task::JoinSet;

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::teams_support::{connector, drive, persona, spawn_token_stub, teams_info};

async fn stats(sandbox: &TestSandbox) -> Value {
    teams_info(sandbox).await["stats"].clone()
}

async fn install(sandbox: &TestSandbox, key: &str) -> String {
    let (status, body) = drive(sandbox, &format!("/personas/{key}/install"), json!({})).await;
    assert_eq!(status, 200);
    body["conversationId"].as_str().unwrap().to_owned()
}

async fn fault(sandbox: &TestSandbox, fault: Value) {
    let (status, body) = drive(sandbox, "/faults", fault).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn concurrent_sends_share_one_token_and_create_conversations() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let app_id = sandbox.state.world().app.client_id.clone();
    let tenant = sandbox.state.tenant_id();
    let keys = ["alex", "miriam", "megan", "bianca", "adele"];
    let mut users = Vec::new();
    for key in keys {
        install(&sandbox, key).await;
        users.push(persona(&sandbox, key).await);
    }
    let mut tasks = JoinSet::new();
    for user in users.clone() {
        let (client, service_url) = (client.clone(), service_url.clone());
        let (app_id, tenant) = (app_id.clone(), tenant.clone());
        tasks.spawn(async move {
            let bot = ChannelAccount {
                id: format!("28:{app_id}"),
                ..ChannelAccount::default()
            };
            let user_id = user["teamsUserId"].as_str().unwrap();
            let created = client
                .create_personal_conversation(&service_url, bot, user_id, &tenant)
                .await
                .unwrap();
            assert_eq!(created.id, user["conversationId"].as_str().unwrap());
            client
                .send_to_conversation(
                    &service_url,
                    &created.id,
                    &OutgoingActivity::text("Your request is pending"),
                )
                .await
                .unwrap()
        });
    }
    while let Some(done) = tasks.join_next().await {
        assert!(done.unwrap().id.is_some());
    }
    assert_eq!(stub.requests(), 1, "one token for every concurrent call");
    let view: Value = sandbox
        .http
        .get(sandbox.url("/sim/teams/personas/megan/conversation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["activities"][0]["text"], "Your request is pending");
}

#[tokio::test]
async fn throttling_is_retried_with_and_without_retry_after() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let conversation = install(&sandbox, "alex").await;
    let message = OutgoingActivity::text("hello");

    fault(&sandbox, json!({ "status": 429, "retryAfter": 1 })).await;
    let started = Instant::now();
    client
        .send_to_conversation(&service_url, &conversation, &message)
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );

    fault(&sandbox, json!({ "status": 429, "count": 2 })).await;
    client
        .send_to_conversation(&service_url, &conversation, &message)
        .await
        .unwrap();
    let stats = stats(&sandbox).await;
    assert_eq!(stats["throttled"], 3);
    assert_eq!(stats["connectorCalls"], 5);
}

#[tokio::test]
async fn precondition_failed_and_gateway_errors_are_retried_then_surfaced() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let conversation = install(&sandbox, "alex").await;
    let message = OutgoingActivity::text("hello");
    for status in [412, 502, 504] {
        fault(&sandbox, json!({ "status": status })).await;
    }
    client
        .send_to_conversation(&service_url, &conversation, &message)
        .await
        .unwrap();
    assert_eq!(stats(&sandbox).await["connectorCalls"], 4);
    fault(&sandbox, json!({ "status": 503, "retryAfter": 0 })).await;
    client
        .send_to_conversation(&service_url, &conversation, &message)
        .await
        .unwrap();
    assert_eq!(stats(&sandbox).await["connectorCalls"], 6);

    // The retry budget (3 retries) runs out: four calls, then the error.
    fault(&sandbox, json!({ "status": 503, "count": 10 })).await;
    let error = client
        .send_to_conversation(&service_url, &conversation, &message)
        .await
        .unwrap_err();
    assert!(
        matches!(error, TeamsError::Unavailable { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(stats(&sandbox).await["connectorCalls"], 10);
}

#[tokio::test]
async fn blocked_missing_and_oversized_are_not_retried() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let conversation = install(&sandbox, "alex").await;

    let huge = OutgoingActivity::text("x".repeat(40 * 1024));
    let error = client
        .send_to_conversation(&service_url, &conversation, &huge)
        .await
        .unwrap_err();
    assert_eq!(error, TeamsError::TooLarge);

    let error = client
        .send_to_conversation(&service_url, "a:1gone", &OutgoingActivity::text("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TeamsError::NotFound { code, .. } if code == "ConversationNotFound"),
        "{error:?}"
    );

    drive(&sandbox, "/personas/alex/block", json!({ "blocked": true })).await;
    let error = client
        .send_to_conversation(&service_url, &conversation, &OutgoingActivity::text("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TeamsError::Blocked {
            code: "MessageWritesBlocked".into()
        }
    );

    fault(
        &sandbox,
        json!({ "status": 403, "code": "BotDisabledByAdmin" }),
    )
    .await;
    let error = client
        .send_to_conversation(&service_url, &conversation, &OutgoingActivity::text("hi"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TeamsError::Blocked {
            code: "BotDisabledByAdmin".into()
        }
    );
    assert_eq!(stats(&sandbox).await["connectorCalls"], 4, "one call each");
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let conversation = install(&sandbox, "alex").await;
    fault(&sandbox, json!({ "status": 401 })).await;
    client
        .send_to_conversation(&service_url, &conversation, &OutgoingActivity::text("hi"))
        .await
        .unwrap();
    assert_eq!(stub.requests(), 2);
}

#[tokio::test]
async fn twenty_messages_to_one_conversation_provoke_no_429() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let conversation = install(&sandbox, "alex").await;
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let (client, service_url, conversation) =
            (client.clone(), service_url.clone(), conversation.clone());
        tasks.spawn(async move {
            let message = OutgoingActivity::text(format!("update {i}"));
            client
                .send_to_conversation(&service_url, &conversation, &message)
                .await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let stats = stats(&sandbox).await;
    assert_eq!(stats["throttled"], 0);
    assert_eq!(stats["connectorCalls"], 20);
}

#[tokio::test]
async fn a_card_is_updated_in_place_and_a_channel_thread_is_started() {
    let sandbox = spawn_sandbox().await;
    let stub = spawn_token_stub(&sandbox).await;
    let (client, service_url) = connector(&sandbox, &stub);
    let conversation = install(&sandbox, "alex").await;
    let card = |text: &str| {
        OutgoingActivity::card(json!({ "type": "AdaptiveCard", "version": "1.5",
                                       "body": [{ "type": "TextBlock", "text": text }] }))
    };
    let posted = client
        .send_to_conversation(&service_url, &conversation, &card("Pending"))
        .await
        .unwrap();
    let id = posted.id.unwrap();
    let updated = client
        .update_activity(&service_url, &conversation, &id, &card("Approved"))
        .await
        .unwrap();
    assert_eq!(updated.id.as_deref(), Some(id.as_str()));
    let view: Value = sandbox
        .http
        .get(sandbox.url("/sim/teams/personas/alex/conversation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["activities"][0]["version"], 2);
    assert_eq!(
        view["activities"][0]["attachments"][0]["content"]["body"][0]["text"],
        "Approved"
    );

    // The security channel: not installed in the team → refused, then a thread.
    let tenant = sandbox.state.tenant_id();
    let alert = OutgoingActivity::text("Alex activated Global Administrator");
    let refused = client
        .create_channel_thread(&service_url, ALERTS_CHANNEL_ID, &tenant, &alert)
        .await;
    assert!(
        matches!(refused, Err(TeamsError::Blocked { ref code }) if code == "BotNotInConversationRoster")
    );
    let (status, _) = drive(
        &sandbox,
        &format!("/channels/{ALERTS_CHANNEL_ID}/install"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let thread = client
        .create_channel_thread(&service_url, ALERTS_CHANNEL_ID, &tenant, &alert)
        .await
        .unwrap();
    let root = thread.activity_id.unwrap();
    assert_eq!(thread.id, format!("{ALERTS_CHANNEL_ID};messageid={root}"));
    client
        .reply_to_activity(
            &service_url,
            &thread.id,
            &root,
            &OutgoingActivity::text("Justification: on call"),
        )
        .await
        .unwrap();
    let members = client.get_members(&service_url, &thread.id).await.unwrap();
    assert!(
        members
            .iter()
            .any(|m| m.aad_object_id.as_deref() == Some(sandbox.persona_id("bianca").as_str()))
    );
    let channel: Value = sandbox
        .http
        .get(sandbox.url(&format!(
            "/sim/teams/channels/{ALERTS_CHANNEL_ID}/messages?as=bianca"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let threads = channel["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!(
        threads[0]["root"]["text"],
        "Alex activated Global Administrator"
    );
    assert_eq!(threads[0]["replies"][0]["text"], "Justification: on call");
    assert_eq!(threads[0]["replies"][0]["replyToId"], root);
}
