//! The Slack chat port against the emulated Web API: DMs are posted and
//! updated through their `D…` id, Slack's `ok: false` answers become the
//! engine's `ChatError`s, and a 429 is honoured (waited out, or handed to
//! the outbox as `RateLimited` when too long to wait in line).

use std::time::Duration;

use serde_json::Value;
use stagegate::chat::identity::ChatIdentity;
use stagegate::chat::port::{ChatError, ChatPort, EarlierPost, Message, Recipient};
use stagegate::chat::slack::SlackPort;
use stagegate::chat::slack::adapter::parse_ref;
use stagegate::chat::slack::client::ClientOptions;
use stagegate::chat::slack::limits::ClientLimits;
use stagegate::retry::RetryPolicy;
use stagegate_domain::chat_ids::Platform;

use crate::helpers::spawn_sandbox;
use crate::slack_support::{client_with, driver_get, slack_of};

fn person(slack: &Value, key: &str) -> Recipient {
    Recipient::Person {
        identity: ChatIdentity {
            platform: "slack".into(),
            workspace: slack["teamId"].as_str().unwrap().into(),
            user: slack["users"][key]["userId"].as_str().unwrap_or(key).into(),
        },
    }
}

fn text(t: &str) -> Message {
    Message::Text { text: t.into() }
}

fn channel_id(slack: &Value, name: &str) -> String {
    slack["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_dm_is_posted_and_updated_through_its_d_id() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let port = SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled()));
    let at = port
        .post(&person(&slack, "miriam"), &text("first"))
        .await
        .unwrap();
    let (channel, ts) = parse_ref(&at).unwrap();
    assert_eq!(
        channel,
        slack["users"]["miriam"]["dmChannelId"].as_str().unwrap()
    );
    assert!(channel.starts_with('D'));
    port.update(&at, &text("second")).await.unwrap();
    // A second post reuses the cached DM id: one conversations.open.
    port.post(&person(&slack, "miriam"), &text("third"))
        .await
        .unwrap();
    let log = driver_get(&sandbox, "/calls").await;
    let calls = log["calls"].as_array().unwrap();
    let updates: Vec<&Value> = calls
        .iter()
        .filter(|c| c["method"] == "chat.update")
        .collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["channel"], channel, "chat.update used the D… id");
    assert_eq!(updates[0]["ok"], true);
    assert_eq!(
        calls
            .iter()
            .filter(|c| c["method"] == "conversations.open")
            .count(),
        1
    );
    let dm = driver_get(&sandbox, "/personas/miriam/conversations/dm").await;
    let messages = dm["messages"].as_array().unwrap();
    let updated = messages.iter().find(|m| m["ts"] == ts).unwrap();
    assert_eq!(updated["text"], "second");
}

#[tokio::test]
async fn ok_false_answers_become_chat_errors() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let port = SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled()));
    // The bot is not in #general.
    let general = Recipient::SecurityChannel {
        channel: channel_id(&slack, "general"),
    };
    match port.post(&general, &text("x")).await {
        Err(ChatError::Unreachable { platform, reason }) => {
            assert_eq!(platform, Platform::Slack);
            assert_eq!(reason, "not_in_channel");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    match port.post(&person(&slack, "U0NOBODY01"), &text("x")).await {
        Err(ChatError::Unreachable { reason, .. }) => assert_eq!(reason, "user_not_found"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    let bad = SlackPort::new(client_with(
        &sandbox,
        "xoxb-not-a-token",
        ClientLimits::unthrottled(),
    ));
    match bad.post(&general, &text("x")).await {
        Err(ChatError::Permanent(reason)) => assert!(reason.contains("invalid_auth"), "{reason}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
    let stale = stagegate::chat::port::MessageRef("mem-1".into());
    assert!(matches!(
        port.update(&stale, &text("x")).await,
        Err(ChatError::Permanent(_))
    ));
}

#[tokio::test]
async fn a_429_is_waited_out_or_handed_back_as_rate_limited() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let security = Recipient::SecurityChannel {
        channel: channel_id(&slack, "stagegate-security"),
    };
    // Too long to wait in line: the outbox gets RateLimited with Slack's wait.
    let impatient = SlackPort::new(stagegate::chat::slack::SlackClient::new(
        reqwest::Client::new(),
        &sandbox.url("/slack/api"),
        secrecy::SecretString::from(token.to_owned()),
        ClientOptions {
            limits: ClientLimits::unthrottled(),
            retry: RetryPolicy {
                max_inline_wait: Duration::ZERO,
                ..RetryPolicy::default()
            },
            ..ClientOptions::default()
        },
    ));
    let mut limited = None;
    for i in 0..6 {
        if let Err(e) = impatient
            .post(&security, &text(&format!("burst {i}")))
            .await
        {
            limited = Some(e);
            break;
        }
    }
    match limited {
        Some(ChatError::RateLimited { retry_after }) => {
            assert!(retry_after >= Duration::from_secs(1))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // A patient port waits Retry-After out and delivers.
    let patient = SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled()));
    patient
        .post(&security, &text("after the wait"))
        .await
        .unwrap();
    let log = driver_get(&sandbox, "/calls").await;
    let posts: Vec<&Value> = log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == "chat.postMessage")
        .collect();
    assert!(posts.iter().any(|c| c["status"] == 429), "{posts:?}");
    assert_eq!(posts.last().unwrap()["ok"], true);
}

async fn store_in(dir: &tempfile::TempDir) -> std::sync::Arc<dyn stagegate::store::Store> {
    std::sync::Arc::new(
        stagegate::store::SqliteStore::open(&dir.path().join("bot.db"), 1)
            .await
            .unwrap(),
    )
}

fn opens(log: &Value) -> usize {
    log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == "conversations.open")
        .count()
}

#[tokio::test]
async fn a_restarted_bot_finds_the_dms_it_opened_in_its_database() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let port = SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled()))
        .with_store(store.clone());
    port.post(&person(&slack, "miriam"), &text("before"))
        .await
        .unwrap();
    assert_eq!(opens(&driver_get(&sandbox, "/calls").await), 1);
    // A new process on the same database: no conversations.open.
    drop(port);
    let restarted =
        SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled())).with_store(store);
    let at = restarted
        .post(&person(&slack, "miriam"), &text("after"))
        .await
        .unwrap();
    assert_eq!(opens(&driver_get(&sandbox, "/calls").await), 1);
    let (channel, _) = parse_ref(&at).unwrap();
    assert_eq!(
        channel,
        slack["users"]["miriam"]["dmChannelId"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_kept_dm_slack_no_longer_knows_is_opened_again() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(&dir).await;
    let Recipient::Person { identity } = person(&slack, "miriam") else {
        unreachable!()
    };
    store
        .upsert_slack_dm(
            &identity.workspace,
            &identity.user,
            "D000GONE",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    let port = SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled()))
        .with_store(store.clone());
    port.post(&person(&slack, "miriam"), &text("hello"))
        .await
        .unwrap();
    let real = slack["users"]["miriam"]["dmChannelId"].as_str().unwrap();
    assert_eq!(
        store
            .slack_dm(&identity.workspace, &identity.user)
            .await
            .unwrap()
            .as_deref(),
        Some(real)
    );
    assert_eq!(opens(&driver_get(&sandbox, "/calls").await), 1);
}

#[tokio::test]
async fn a_delivery_is_not_kept_in_a_long_line_for_a_slack_limit() {
    use stagegate::chat::port::QUEUE_PATIENCE;
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let port = SlackPort::new(client_with(&sandbox, token, ClientLimits::default()));
    let miriam = person(&slack, "miriam");
    // chat.postMessage allows a burst of 2 per channel, then 1 a second.
    for i in 0..2 {
        port.post(&miriam, &text(&format!("burst {i}")))
            .await
            .unwrap();
    }
    // The outbox's patience is shorter than the wait: told, not kept.
    let patient = std::time::Duration::from_millis(300);
    let third = QUEUE_PATIENCE
        .scope(patient, port.post(&miriam, &text("third")))
        .await;
    match third {
        Err(ChatError::RateLimited { retry_after }) => {
            assert!(retry_after > patient, "{retry_after:?}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    // Outside a delivery (an answer to a person) it waits its turn.
    port.post(&miriam, &text("waited")).await.unwrap();
    let dm = driver_get(&sandbox, "/personas/miriam/conversations/dm").await;
    let texts: Vec<&str> = dm["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(!texts.contains(&"third"), "{texts:?}");
    assert!(texts.contains(&"waited"), "{texts:?}");
}

#[tokio::test]
async fn a_delivery_is_found_again_by_the_key_it_was_marked_with() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let port = SlackPort::new(client_with(&sandbox, token, ClientLimits::unthrottled()));
    let (miriam, bianca) = (person(&slack, "miriam"), person(&slack, "bianca"));
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    port.post(&miriam, &text("an unmarked message"))
        .await
        .unwrap();
    let card = port
        .post_tagged(&miriam, &text("the card"), "card:r1:1:miriam")
        .await
        .unwrap();
    port.post_tagged(&miriam, &text("a later card"), "card:r2:1:miriam")
        .await
        .unwrap();
    // Only through its mark, in the right DM, and not before `since`.
    let found = port
        .find_tagged(&miriam, "card:r1:1:miriam", before)
        .await
        .unwrap();
    assert_eq!(found, EarlierPost::Found(card));
    assert_eq!(
        port.find_tagged(&miriam, "card:r3:1:miriam", before)
            .await
            .unwrap(),
        EarlierPost::NotFound
    );
    assert_eq!(
        port.find_tagged(&bianca, "card:r1:1:miriam", before)
            .await
            .unwrap(),
        EarlierPost::NotFound
    );
    let later = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert_eq!(
        port.find_tagged(&miriam, "card:r1:1:miriam", later)
            .await
            .unwrap(),
        EarlierPost::NotFound
    );
    // The security channel's history is not the bot's to read.
    let security = Recipient::SecurityChannel {
        channel: channel_id(&slack, "stagegate-security"),
    };
    assert_eq!(
        port.find_tagged(&security, "alert:x", before)
            .await
            .unwrap(),
        EarlierPost::CannotTell
    );
    let calls = driver_get(&sandbox, "/calls").await;
    let history: Vec<&Value> = calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == "conversations.history")
        .collect();
    assert_eq!(history.len(), 4, "one page each: {history:?}");
    assert!(history.iter().all(|c| c["ok"] == true), "{history:?}");
}
