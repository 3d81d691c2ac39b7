//! The emulated Slack's message history: `conversations.history` (order,
//! bounds, cursor paging, scopes, membership) and message `metadata`, which
//! the bot marks its deliveries with to find them after a crash.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::spawn_sandbox;
use crate::slack_support::{driver, raw_call, slack_of};

/// Posts `text` with the bot token, waiting out the emulated 1/s/channel
/// limit (a burst of 2 passes at once); the posted `ts`.
async fn post_paced(
    sandbox: &crate::helpers::TestSandbox,
    token: &str,
    channel: &str,
    text: &str,
) -> String {
    for _ in 0..10 {
        let posted = raw_call(
            sandbox,
            token,
            "chat.postMessage",
            json!({ "channel": channel, "text": text }),
        )
        .await;
        if posted["ok"] == true {
            return posted["ts"].as_str().unwrap().to_owned();
        }
        assert_eq!(posted["error"], "ratelimited", "{posted}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("still rate limited")
}

/// Another bot token of the app with exactly `scopes`.
async fn mint_token(sandbox: &crate::helpers::TestSandbox, scopes: Value) -> String {
    let minted: Value = driver(sandbox, "/tokens", json!({ "scopes": scopes }))
        .await
        .json()
        .await
        .unwrap();
    minted["token"].as_str().unwrap().to_owned()
}

fn texts(history: &Value) -> Vec<&str> {
    history["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn message_metadata_round_trips_through_history_only_when_asked() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let dm = slack["users"]["alex"]["dmChannelId"].as_str().unwrap();
    let metadata = json!({ "event_type": "stagegate_card", "event_payload": { "key": "d-1" } });
    let posted = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": dm, "text": "card", "metadata": metadata }),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    let ts = posted["ts"].as_str().unwrap();
    post_paced(&sandbox, token, dm, "plain").await;

    let history = |all: bool| {
        raw_call(
            &sandbox,
            token,
            "conversations.history",
            json!({ "channel": dm, "include_all_metadata": all }),
        )
    };
    let without = history(false).await;
    assert_eq!(texts(&without), ["plain", "card"]);
    assert!(
        without["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("metadata").is_none()),
        "{without}"
    );
    let with = history(true).await;
    assert_eq!(with["messages"][1]["metadata"], metadata, "{with}");
    assert_eq!(with["messages"][1]["bot_id"], slack["botId"]);
    assert!(with["messages"][0].get("metadata").is_none(), "{with}");

    // chat.update without metadata keeps it; `{}` removes it.
    let update = |body: Value| raw_call(&sandbox, token, "chat.update", body);
    let kept = update(json!({ "channel": dm, "ts": ts, "text": "card v2" })).await;
    assert_eq!(kept["ok"], true, "{kept}");
    let after = history(true).await;
    assert_eq!(
        (
            after["messages"][1]["text"].clone(),
            after["messages"][1]["metadata"].clone()
        ),
        (json!("card v2"), metadata.clone())
    );
    let other = json!({ "event_type": "stagegate_card", "event_payload": { "key": "d-2" } });
    update(json!({ "channel": dm, "ts": ts, "text": "card v3", "metadata": other })).await;
    assert_eq!(history(true).await["messages"][1]["metadata"], other);
    update(json!({ "channel": dm, "ts": ts, "text": "card v4", "metadata": {} })).await;
    assert!(history(true).await["messages"][1].get("metadata").is_none());

    // Malformed metadata is refused, in chat.update and chat.postMessage.
    for bad in [
        json!("not json"),
        json!([1]),
        json!({ "event_payload": {} }),
        json!({ "event_type": 7, "event_payload": {} }),
        json!({ "event_type": "x" }),
        json!({ "event_type": "x", "event_payload": "y" }),
    ] {
        let refused =
            update(json!({ "channel": dm, "ts": ts, "text": "t", "metadata": bad })).await;
        assert_eq!(
            refused,
            json!({ "ok": false, "error": "invalid_metadata_format" }),
            "{bad}"
        );
    }
    let miriam = slack["users"]["miriam"]["dmChannelId"].as_str().unwrap();
    let refused = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": miriam, "text": "t", "metadata": { "event_type": "x", "event_payload": [] } }),
    )
    .await;
    assert_eq!(refused["error"], "invalid_metadata_format");
    // In a form, metadata is a JSON string.
    let megan = slack["users"]["megan"]["dmChannelId"].as_str().unwrap();
    let form: Value = sandbox
        .http
        .post(sandbox.url("/slack/api/chat.postMessage"))
        .form(&[
            ("token", token),
            ("channel", megan),
            ("text", "form card"),
            ("metadata", &metadata.to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["ok"], true, "{form}");
    let read: Value = sandbox
        .http
        .get(sandbox.url(&format!(
            "/slack/api/conversations.history?token={token}&channel={megan}&include_all_metadata=true"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["messages"][0]["metadata"], metadata, "{read}");
}

#[tokio::test]
async fn history_is_newest_first_bounded_and_paged_by_cursor() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let dm = slack["users"]["alex"]["dmChannelId"].as_str().unwrap();
    let empty = raw_call(
        &sandbox,
        token,
        "conversations.history",
        json!({ "channel": dm }),
    )
    .await;
    assert_eq!(
        empty,
        json!({
            "ok": true, "messages": [], "has_more": false, "pin_count": 0,
            "channel_actions_ts": null, "channel_actions_count": 0,
            "response_metadata": { "next_cursor": "" },
        })
    );
    let mut ts = Vec::new();
    for text in ["one", "two", "three"] {
        ts.push(post_paced(&sandbox, token, dm, text).await);
    }
    let history = |extra: Value| {
        let mut body = json!({ "channel": dm });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        raw_call(&sandbox, token, "conversations.history", body)
    };
    assert_eq!(texts(&history(json!({})).await), ["three", "two", "one"]);
    // oldest and latest are exclusive unless `inclusive`.
    let after_one = history(json!({ "oldest": ts[0] })).await;
    assert_eq!(texts(&after_one), ["three", "two"]);
    let from_one = history(json!({ "oldest": ts[0], "inclusive": true })).await;
    assert_eq!(texts(&from_one), ["three", "two", "one"]);
    let before_three = history(json!({ "latest": ts[2] })).await;
    assert_eq!(texts(&before_three), ["two", "one"]);

    let first = history(json!({ "limit": 2 })).await;
    assert_eq!(texts(&first), ["three", "two"]);
    assert_eq!(first["has_more"], true);
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let second = history(json!({ "limit": 2, "cursor": cursor })).await;
    assert_eq!(texts(&second), ["one"]);
    assert_eq!(
        (
            second["has_more"].clone(),
            second["response_metadata"]["next_cursor"].clone()
        ),
        (json!(false), json!(""))
    );
    // The cursor keeps the bounds of the query it continues.
    let bounded = history(json!({ "limit": 1, "oldest": ts[0] })).await;
    assert_eq!(texts(&bounded), ["three"]);
    let cursor = bounded["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap();
    let rest = history(json!({ "limit": 1, "oldest": ts[0], "cursor": cursor })).await;
    assert_eq!(texts(&rest), ["two"]);
    assert_eq!(rest["has_more"], false);

    for (extra, error) in [
        (json!({ "oldest": "yesterday" }), "invalid_ts_oldest"),
        (json!({ "latest": "1.2.3" }), "invalid_ts_latest"),
        (json!({ "limit": 0 }), "invalid_limit"),
        (json!({ "limit": "many" }), "invalid_limit"),
        (json!({ "cursor": "garbage!" }), "invalid_cursor"),
    ] {
        let refused = history(extra.clone()).await;
        assert_eq!(refused["error"], error, "{extra}: {refused}");
    }
}

#[tokio::test]
async fn history_needs_the_conversations_scope_and_membership() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let dm = slack["users"]["alex"]["dmChannelId"].as_str().unwrap();
    let channel_id = |member: bool| {
        slack["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["botIsMember"] == member)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (security, general) = (channel_id(true), channel_id(false));

    let narrow = mint_token(&sandbox, json!(["chat:write", "im:write"])).await;
    let response = sandbox
        .http
        .post(sandbox.url("/slack/api/conversations.history"))
        .bearer_auth(&narrow)
        .json(&json!({ "channel": dm }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-accepted-oauth-scopes"], "im:history");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "ok": false, "error": "missing_scope", "needed": "im:history", "provided": "chat:write,im:write" })
    );
    // The bot's own token reads its DMs, and needs channels:history for a
    // channel.
    let own = raw_call(
        &sandbox,
        token,
        "conversations.history",
        json!({ "channel": dm }),
    )
    .await;
    assert_eq!(own["ok"], true, "{own}");
    let channel = raw_call(
        &sandbox,
        token,
        "conversations.history",
        json!({ "channel": security }),
    )
    .await;
    assert_eq!(
        (channel["error"].clone(), channel["needed"].clone()),
        (json!("missing_scope"), json!("channels:history"))
    );

    // Unknown conversations, names and channels the bot is not in are all
    // `channel_not_found`.
    let reader = mint_token(&sandbox, json!(["channels:history", "im:history"])).await;
    for channel in ["D0000000000", "#stagegate-security", general.as_str()] {
        let missing = raw_call(
            &sandbox,
            &reader,
            "conversations.history",
            json!({ "channel": channel }),
        )
        .await;
        assert_eq!(
            missing,
            json!({ "ok": false, "error": "channel_not_found" }),
            "{channel}"
        );
    }
    let readable = raw_call(
        &sandbox,
        &reader,
        "conversations.history",
        json!({ "channel": security }),
    )
    .await;
    assert_eq!(readable["ok"], true, "{readable}");
    let missing = raw_call(&sandbox, token, "conversations.history", json!({})).await;
    assert_eq!(missing["error"], "invalid_arguments");
}
