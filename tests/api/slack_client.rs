//! The bot's Slack Web API client against the emulated Slack.

use std::time::Instant;

use serde_json::{Value, json};
use stagegate::chat::slack::SlackError;
use stagegate::chat::slack::client::{PostMessage, UpdateMessage};
use stagegate::chat::slack::limits::ClientLimits;

use crate::helpers::spawn_sandbox;
use crate::slack_support::{bot_client, client_with, driver, driver_get, slack_of};

fn text(channel: &str, text: &str) -> PostMessage {
    PostMessage {
        channel: channel.into(),
        text: text.into(),
        ..PostMessage::default()
    }
}

fn calls_of(log: &Value, method: &str) -> Vec<Value> {
    log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == method)
        .cloned()
        .collect()
}

#[tokio::test]
async fn dm_is_opened_posted_and_updated_by_its_d_id() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let client = bot_client(&sandbox).await;
    let me = client.auth_test().await.unwrap();
    assert_eq!(
        (me.user_id.as_str(), me.team_id.as_str()),
        (
            slack["botUserId"].as_str().unwrap(),
            slack["teamId"].as_str().unwrap()
        )
    );

    let alex = slack["users"]["alex"]["userId"].as_str().unwrap();
    let profile = client.user_info(alex).await.unwrap();
    assert_eq!(
        profile.profile.email.as_deref(),
        Some(
            sandbox
                .state
                .world()
                .user_by_key("alex")
                .unwrap()
                .mail
                .as_str()
        )
    );

    let dm = client.open_dm(alex).await.unwrap();
    assert_eq!(dm, slack["users"]["alex"]["dmChannelId"].as_str().unwrap());
    let posted = client
        .post_message(&PostMessage {
            blocks: Some(vec![json!({ "type": "section", "text": { "type": "mrkdwn", "text": "y".repeat(4000) } })]),
            ..text(&dm, "Approval needed")
        })
        .await
        .unwrap();
    assert_eq!(posted.channel, dm);
    let update = UpdateMessage {
        channel: posted.channel.clone(),
        ts: posted.ts.clone(),
        text: "Approved by Miriam".into(),
        blocks: Some(vec![]),
    };
    client.update_message(&update).await.unwrap();

    let seen = driver_get(&sandbox, "/personas/alex/conversations/dm").await;
    assert_eq!(seen["messages"].as_array().unwrap().len(), 1);
    assert_eq!(seen["messages"][0]["text"], "Approved by Miriam");
    // The 4000-character section was cut to Slack's 3000 with a visible `…`
    // before sending, so Slack accepted it instead of `invalid_blocks`.
    let log = driver_get(&sandbox, "/calls").await;
    assert!(
        log["calls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{log}"
    );
}

#[tokio::test]
async fn ok_false_answers_become_typed_errors() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let client = bot_client(&sandbox).await;
    let alex = slack["users"]["alex"]["userId"].as_str().unwrap();
    let dm = client.open_dm(alex).await.unwrap();
    let posted = client.post_message(&text(&dm, "hello")).await.unwrap();

    let wrong_channel = UpdateMessage {
        channel: alex.into(),
        ts: posted.ts.clone(),
        text: "x".into(),
        blocks: None,
    };
    let error = client.update_message(&wrong_channel).await.unwrap_err();
    assert_eq!(error.api_error(), Some("channel_not_found"));
    let unknown = client.user_info("U0NOBODY00").await.unwrap_err();
    assert!(
        matches!(&unknown, SlackError::Api { method: "users.info", error, .. } if error == "user_not_found")
    );

    let minted: Value = driver(&sandbox, "/tokens", json!({ "scopes": ["chat:write"] }))
        .await
        .json()
        .await
        .unwrap();
    let narrow = client_with(
        &sandbox,
        minted["token"].as_str().unwrap(),
        ClientLimits::default(),
    );
    let missing = narrow.open_dm(alex).await.unwrap_err();
    let SlackError::Api {
        error,
        needed,
        provided,
        ..
    } = missing
    else {
        panic!("{missing:?}")
    };
    assert_eq!(
        (error.as_str(), needed.as_deref(), provided.as_deref()),
        ("missing_scope", Some("im:write"), Some("chat:write"))
    );
    // The token never shows in an error.
    assert!(!format!("{error:?}").contains("xoxb-"));
}

#[tokio::test]
async fn slack_429s_are_waited_out_with_retry_after() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let channel = "#stagegate-security";

    // Without the client: a burst gets 429, Retry-After and `ratelimited`.
    let mut limited = None;
    for i in 0..4 {
        let response = sandbox
            .http
            .post(sandbox.url("/slack/api/chat.postMessage"))
            .bearer_auth(token)
            .json(&json!({ "channel": slack["users"]["miriam"]["dmChannelId"], "text": format!("raw {i}") }))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a burst of 4 to one channel is limited");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({ "ok": false, "error": "ratelimited" })
    );

    // A client whose own limiter is off runs into Slack's, and waits it out.
    let client = client_with(&sandbox, token, ClientLimits::unthrottled());
    for i in 0..4 {
        client
            .post_message(&text(channel, &format!("alert {i}")))
            .await
            .unwrap();
    }
    let log = driver_get(&sandbox, "/calls").await;
    let to_security: Vec<Value> = calls_of(&log, "chat.postMessage")
        .into_iter()
        .filter(|c| c["channel"] != slack["users"]["miriam"]["dmChannelId"])
        .collect();
    let throttled = to_security.iter().filter(|c| c["status"] == 429).count();
    assert!(
        throttled >= 1,
        "the emulator throttled the client: {to_security:?}"
    );
    assert_eq!(to_security.iter().filter(|c| c["ok"] == true).count(), 4);
    let seen = driver_get(
        &sandbox,
        "/personas/bianca/conversations/stagegate-security",
    )
    .await;
    let texts: Vec<&str> = seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["alert 0", "alert 1", "alert 2", "alert 3"]);
}

#[tokio::test]
async fn client_limits_keep_ten_messages_to_one_channel_below_slacks_limit() {
    let sandbox = spawn_sandbox().await;
    let client = bot_client(&sandbox).await;
    let started = Instant::now();
    for i in 0..10 {
        client
            .post_message(&text("#stagegate-security", &format!("alert {i}")))
            .await
            .unwrap();
    }
    let took = started.elapsed();
    let log = driver_get(&sandbox, "/calls").await;
    let posts = calls_of(&log, "chat.postMessage");
    assert_eq!(posts.len(), 10, "no retries were needed");
    assert!(
        posts.iter().all(|c| c["status"] == 200 && c["ok"] == true),
        "no 429: {posts:?}"
    );
    // One per second after a burst of two: the first and the tenth are at
    // least 8 s apart (less a margin for the jitter between client and
    // emulator).
    let first = posts[0]["atMs"].as_u64().unwrap();
    let last = posts[9]["atMs"].as_u64().unwrap();
    assert!(last - first >= 7_500, "{} ms", last - first);
    assert!(took.as_millis() >= 7_500);
    let seen = driver_get(
        &sandbox,
        "/personas/bianca/conversations/stagegate-security",
    )
    .await;
    let texts: Vec<String> = seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        (0..10).map(|i| format!("alert {i}")).collect::<Vec<_>>()
    );
    // Other methods have their own budget and are not held up by it.
    let adele = slack_of(&sandbox).await["users"]["adele"]["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(client.open_dm(&adele).await.unwrap().starts_with('D'));
}
