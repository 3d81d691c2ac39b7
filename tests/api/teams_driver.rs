//! The Teams driver API round trip through a real (test) bot: install,
//! message, a card posted by the bot, a click with inputs, the replacement
//! card for the clicker, and a base-card update everyone sees.

use serde_json::{Value, json};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::teams_support::{connector_post, connector_token, drive, spawn_bot};

#[tokio::test]
async fn driver_round_trip_message_card_click_and_update() {
    let sandbox = spawn_sandbox().await;
    let bot = spawn_bot(&sandbox).await;
    let (status, _) = drive(&sandbox, "/bot", json!({ "endpoint": bot.endpoint })).await;
    assert_eq!(status, 200);
    let alex_id = sandbox.persona_id("alex");

    let (_, install) = drive(&sandbox, "/personas/alex/install", json!({})).await;
    assert_eq!(install["bot"]["status"], 200);
    let update = bot.last();
    assert_eq!(update.kind, "conversationUpdate");
    assert_eq!(update.members_added.len(), 2);
    let conversation = install["conversationId"].as_str().unwrap().to_owned();

    let (_, sent) = drive(
        &sandbox,
        "/personas/alex/messages",
        json!({ "text": "request global-admin T-1 why" }),
    )
    .await;
    assert_eq!(sent["bot"]["status"], 200);
    let message = bot.last();
    assert_eq!(
        message.text.as_deref(),
        Some("request global-admin T-1 why")
    );
    assert_eq!(
        message.from.as_ref().unwrap().aad_object_id.as_deref(),
        Some(alex_id.as_str())
    );
    assert_eq!(message.conversation.as_ref().unwrap().id, conversation);

    // The bot posts an approval card into Alex's chat.
    let card = json!({
        "type": "AdaptiveCard", "version": "1.5",
        "body": [{ "type": "Input.Text", "id": "justification", "isRequired": true, "errorMessage": "Say why" }],
        "actions": [{ "type": "Action.Execute", "title": "Approve", "verb": "approve", "data": { "requestId": "r1" } }],
    });
    let posted = connector_post(
        &sandbox,
        &format!("/conversations/{conversation}/activities"),
        &json!({ "type": "message", "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "content": card }] }).to_string(),
    )
    .await;
    let card_id = posted.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A client refuses an empty required input without calling the bot.
    let calls_before = bot.calls();
    let (status, _) = drive(
        &sandbox,
        "/personas/alex/invoke",
        json!({ "activityId": card_id, "verb": "approve" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(bot.calls(), calls_before);

    let (status, click) = drive(
        &sandbox,
        "/personas/alex/invoke",
        json!({ "activityId": card_id, "verb": "approve", "inputs": { "justification": "on call" } }),
    )
    .await;
    assert_eq!(status, 200, "{click}");
    assert_eq!(click["bot"]["status"], 200);
    assert_eq!(click["cardReplaced"], true);
    let invoke = bot.last();
    assert_eq!(invoke.reply_to_id.as_deref(), Some(card_id.as_str()));
    let action = invoke
        .adaptive_card_action()
        .expect("an Action.Execute invoke");
    assert_eq!(action.action.verb.as_deref(), Some("approve"));
    assert_eq!(
        action.action.data,
        json!({ "requestId": "r1", "justification": "on call" })
    );

    let view = conversation_view(&sandbox, "alex").await;
    let shown = find(&view, &card_id);
    assert_eq!(
        shown["attachments"][0]["content"]["body"][0]["text"],
        "Recorded: on call"
    );

    // The bot updates the base card: everyone, Alex included, sees it.
    let final_card = json!({ "type": "AdaptiveCard", "version": "1.5", "body": [{ "type": "TextBlock", "text": "Approved" }] });
    let put = sandbox
        .http
        .put(sandbox.url(&format!("/teams/v3/conversations/{conversation}/activities/{card_id}")))
        .bearer_auth(connector_token(&sandbox))
        .json(&json!({ "type": "message", "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive", "content": final_card }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let view = conversation_view(&sandbox, "alex").await;
    let shown = find(&view, &card_id);
    assert_eq!(shown["version"], 2);
    assert_eq!(
        shown["attachments"][0]["content"]["body"][0]["text"],
        "Approved"
    );

    // The emulator noted (in real time, for the bench) the post, the click
    // the bot got (not the one the client refused) and the update.
    let moments = {
        let store = sandbox.state.teams.store();
        store.conversations[&conversation]
            .activity(&card_id)
            .unwrap()
            .moments
            .clone()
    };
    let clickers: Vec<&str> = moments.clicked.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(clickers, [alex_id.as_str()], "{moments:?}");
    assert_eq!(moments.updated.len(), 1);
    assert!(moments.posted <= moments.clicked[0].1 && moments.clicked[0].1 <= moments.updated[0]);
}

async fn conversation_view(sandbox: &TestSandbox, key: &str) -> Value {
    sandbox
        .http
        .get(sandbox.url(&format!("/sim/teams/personas/{key}/conversation")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn find<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["activities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no activity {id} in {view}"))
}
