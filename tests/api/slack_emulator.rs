//! The emulated Slack: authentication, scopes, arguments, Block Kit
//! validation, message state, triggers, response_urls and the signed
//! deliveries of the driver API.

use std::time::Duration;

use axum::response::IntoResponse;
use serde_json::{Value, json};
use stagegate::chat::slack::payload::{Inbound, Interaction};

use crate::helpers::spawn_sandbox;
use crate::slack_support::{ack, connect_bot, driver, driver_get, raw_call, slack_of, spawn_bot};

#[tokio::test]
async fn tokens_are_checked_as_slack_does() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    assert!(token.starts_with("xoxb-"));
    let api = sandbox.url("/slack/api/auth.test");

    let ok = raw_call(&sandbox, token, "auth.test", json!({})).await;
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["team_id"], slack["teamId"]);
    assert_eq!(ok["user_id"], slack["botUserId"]);
    assert_eq!(ok["bot_id"], slack["botId"]);

    let none: Value = sandbox
        .http
        .post(&api)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!({ "ok": false, "error": "not_authed" }));
    let forged = raw_call(&sandbox, "xoxb-1-2-forged", "auth.test", json!({})).await;
    assert_eq!(forged["error"], "invalid_auth");
    // JSON bodies must carry the token in the header, not the body.
    let in_json: Value = sandbox
        .http
        .post(&api)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(in_json["error"], "not_authed");
    // A form or a query string may carry it.
    let in_form: Value = sandbox
        .http
        .post(&api)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(in_form["ok"], true);
    let in_query: Value = sandbox
        .http
        .get(format!("{api}?token={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(in_query["ok"], true);
    let unknown = raw_call(&sandbox, token, "chat.meMessage", json!({})).await;
    assert_eq!(unknown["error"], "unknown_method");
}

#[tokio::test]
async fn missing_scope_names_needed_and_provided() {
    let sandbox = spawn_sandbox().await;
    let minted: Value = driver(&sandbox, "/tokens", json!({ "scopes": ["chat:write"] }))
        .await
        .json()
        .await
        .unwrap();
    let narrow = minted["token"].as_str().unwrap();
    let alex = slack_of(&sandbox).await["users"]["alex"]["userId"].clone();
    let response = sandbox
        .http
        .post(sandbox.url("/slack/api/conversations.open"))
        .bearer_auth(narrow)
        .json(&json!({ "users": alex }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-oauth-scopes"], "chat:write");
    assert_eq!(response.headers()["x-accepted-oauth-scopes"], "im:write");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "ok": false, "error": "missing_scope", "needed": "im:write", "provided": "chat:write" })
    );
    // views.* need no scope.
    let views = raw_call(&sandbox, narrow, "views.open", json!({ "trigger_id": "1.2.abc", "view": {"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []} })).await;
    assert_eq!(views["error"], "invalid_trigger_id");
}

#[tokio::test]
async fn arguments_and_blocks_are_validated() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let security = slack["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["botIsMember"] == true)
        .unwrap()["id"]
        .clone();
    let general = slack["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["botIsMember"] == false)
        .unwrap()["id"]
        .clone();

    let missing = raw_call(&sandbox, token, "chat.postMessage", json!({ "text": "hi" })).await;
    assert_eq!(missing["error"], "invalid_arguments");
    assert_eq!(
        missing["response_metadata"]["messages"][0],
        "[ERROR] missing required field: channel"
    );
    let empty = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": "", "text": "hi" }),
    )
    .await;
    assert_eq!(empty["error"], "channel_not_found");
    let outside = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": general, "text": "hi" }),
    )
    .await;
    assert_eq!(outside["error"], "not_in_channel");
    let no_text = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": security }),
    )
    .await;
    assert_eq!(no_text["error"], "no_text");

    // Each check posts to its own channel: Slack's 1/s/channel limit
    // applies to refused calls too.
    let dm = |key: &str| slack["users"][key]["dmChannelId"].clone();
    let long = raw_call(&sandbox, token, "chat.postMessage", json!({
        "channel": dm("alex"), "text": "fallback",
        "blocks": [{ "type": "section", "text": { "type": "mrkdwn", "text": "x".repeat(3001) } }],
    })).await;
    assert_eq!(long["error"], "invalid_blocks");
    assert!(
        long["errors"][0]
            .as_str()
            .unwrap()
            .contains("[json-pointer:/blocks/0/text/text]"),
        "{long}"
    );
    let many: Vec<Value> = (0..51)
        .map(|i| json!({ "type": "divider", "block_id": format!("b{i}") }))
        .collect();
    let too_many = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": dm("miriam"), "text": "t", "blocks": many }),
    )
    .await;
    assert_eq!(too_many["error"], "invalid_blocks");
    let button = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({
            "channel": dm("megan"), "text": "t",
            "blocks": [{ "type": "actions", "elements": [{ "type": "button", "action_id": "a",
                "text": { "type": "plain_text", "text": "b".repeat(76) } }] }],
        }),
    )
    .await;
    assert_eq!(button["error"], "invalid_blocks");
    // In a form, blocks are a JSON string; a broken one is a format error.
    let form: Value = sandbox
        .http
        .post(sandbox.url("/slack/api/chat.postMessage"))
        .form(&[
            ("token", token),
            ("channel", dm("bianca").as_str().unwrap()),
            ("blocks", "[{"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["error"], "invalid_blocks_format");
    let posted = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": "#stagegate-security", "text": "fine" }),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    assert_eq!(posted["channel"], security);
}

#[tokio::test]
async fn chat_update_finds_messages_by_dm_id_and_ts_only() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let alex = slack["users"]["alex"]["userId"].as_str().unwrap();
    let opened = raw_call(
        &sandbox,
        token,
        "conversations.open",
        json!({ "users": alex }),
    )
    .await;
    let dm = opened["channel"]["id"].as_str().unwrap();
    assert!(dm.starts_with('D'));
    let again = raw_call(
        &sandbox,
        token,
        "conversations.open",
        json!({ "users": alex }),
    )
    .await;
    assert_eq!(
        (again["channel"]["id"].as_str(), &again["already_open"]),
        (Some(dm), &json!(true))
    );
    let posted = raw_call(
        &sandbox,
        token,
        "chat.postMessage",
        json!({ "channel": dm, "text": "v1" }),
    )
    .await;
    let ts = posted["ts"].as_str().unwrap();

    let by_user = raw_call(
        &sandbox,
        token,
        "chat.update",
        json!({ "channel": alex, "ts": ts, "text": "v2" }),
    )
    .await;
    assert_eq!(by_user["error"], "channel_not_found");
    let unknown_ts = raw_call(
        &sandbox,
        token,
        "chat.update",
        json!({ "channel": dm, "ts": "1.000001", "text": "v2" }),
    )
    .await;
    assert_eq!(unknown_ts["error"], "message_not_found");
    let updated = raw_call(
        &sandbox,
        token,
        "chat.update",
        json!({ "channel": dm, "ts": ts, "text": "v2" }),
    )
    .await;
    assert_eq!(
        (updated["ok"].clone(), updated["ts"].clone()),
        (json!(true), json!(ts))
    );

    let seen = driver_get(&sandbox, "/personas/alex/conversations/dm").await;
    let messages = seen["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["text"], "v2");
    assert!(messages[0]["edited"].is_string());
    // The emulator notes when the post and the update landed (real time,
    // for the bench), never shown to the bot or a client.
    let moments = message_moments(&sandbox, dm, ts);
    assert_eq!(moments.updated.len(), 1, "{moments:?}");
    assert!(moments.last_change() >= moments.posted);
    assert!(messages[0].get("moments").is_none() && updated["message"].get("moments").is_none());
    // Another persona cannot read Alex's DM.
    let peek = sandbox
        .http
        .get(sandbox.url(&format!("/sim/slack/personas/miriam/conversations/{dm}")))
        .send()
        .await
        .unwrap();
    assert_eq!(peek.status(), 404);
}

const MODAL: &str = r#"{"type":"modal","callback_id":"justify","private_metadata":"req-1",
  "title":{"type":"plain_text","text":"Approve"},"submit":{"type":"plain_text","text":"Approve"},
  "blocks":[{"type":"input","block_id":"why","label":{"type":"plain_text","text":"Justification"},
    "element":{"type":"plain_text_input","action_id":"text","min_length":10}}]}"#;

#[tokio::test]
async fn trigger_ids_are_single_use_and_expire_after_three_seconds() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let (bot, _rx) = spawn_bot(slack["signingSecret"].as_str().unwrap(), ack).await;
    connect_bot(&sandbox, &bot).await;
    let view: Value = serde_json::from_str(MODAL).unwrap();

    let run: Value = driver(
        &sandbox,
        "/personas/alex/command",
        json!({ "text": "global-admin T-1 why" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let trigger = run["triggerId"].as_str().unwrap().to_owned();
    let opened = raw_call(
        &sandbox,
        token,
        "views.open",
        json!({ "trigger_id": trigger, "view": view }),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    assert!(opened["view"]["id"].as_str().unwrap().starts_with('V'));
    assert_eq!(opened["view"]["private_metadata"], "req-1");
    let reused = raw_call(
        &sandbox,
        token,
        "views.open",
        json!({ "trigger_id": trigger, "view": view }),
    )
    .await;
    assert_eq!(reused["error"], "exchanged_trigger_id");

    let run: Value = driver(
        &sandbox,
        "/personas/alex/command",
        json!({ "text": "again" }),
    )
    .await
    .json()
    .await
    .unwrap();
    sandbox.advance_clock("PT3S").await;
    let late = raw_call(
        &sandbox,
        token,
        "views.open",
        json!({ "trigger_id": run["triggerId"], "view": view }),
    )
    .await;
    assert_eq!(late["error"], "expired_trigger_id");
    let bogus = raw_call(
        &sandbox,
        token,
        "views.open",
        json!({ "trigger_id": "not-a-trigger", "view": view }),
    )
    .await;
    assert_eq!(bogus["error"], "invalid_trigger_id");
    let both = raw_call(
        &sandbox,
        token,
        "views.open",
        json!({ "trigger_id": "1.2.a", "interactivity_pointer": "1.2.a", "view": view }),
    )
    .await;
    assert_eq!(both["error"], "invalid_arguments");
}

#[tokio::test]
async fn response_url_works_five_times_within_thirty_minutes() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let (bot, _rx) = spawn_bot(slack["signingSecret"].as_str().unwrap(), ack).await;
    connect_bot(&sandbox, &bot).await;
    let run: Value = driver(&sandbox, "/personas/alex/command", json!({ "text": "x" }))
        .await
        .json()
        .await
        .unwrap();
    let url = run["responseUrl"].as_str().unwrap();
    for i in 0..5 {
        let r = sandbox
            .http
            .post(url)
            .json(&json!({ "text": format!("answer {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            (r.status().as_u16(), r.text().await.unwrap()),
            (200, "ok".to_owned())
        );
    }
    let sixth = sandbox
        .http
        .post(url)
        .json(&json!({ "text": "one more" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sixth.status(), 404);
    assert_eq!(sixth.text().await.unwrap(), "used_url");
    let seen = driver_get(&sandbox, "/personas/alex/conversations/dm").await;
    let ephemeral: Vec<&Value> = seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["ephemeral"] == true)
        .collect();
    assert_eq!(ephemeral.len(), 5);
    // Ephemeral means Miriam's view of her own DM shows none of it.
    let miriam = driver_get(&sandbox, "/personas/miriam/conversations/dm").await;
    assert!(miriam["messages"].as_array().unwrap().is_empty());

    let run: Value = driver(&sandbox, "/personas/alex/command", json!({ "text": "y" }))
        .await
        .json()
        .await
        .unwrap();
    sandbox.advance_clock("PT31M").await;
    let late = sandbox
        .http
        .post(run["responseUrl"].as_str().unwrap())
        .json(&json!({ "text": "late" }))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 404);
    assert_eq!(late.text().await.unwrap(), "expired_url");
}

#[tokio::test]
async fn signed_command_click_and_submission_reach_the_bot() {
    let sandbox = spawn_sandbox().await;
    let slack = slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap();
    let alex = slack["users"]["alex"]["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    // The bot insists on a 10-character justification, as the real one will.
    let (bot, mut rx) = spawn_bot(slack["signingSecret"].as_str().unwrap(), |inbound| match inbound {
        Inbound::Interaction(Interaction::ViewSubmission(s)) if s.view.input("why", "text").is_some_and(|t| t.len() < 10) => {
            axum::Json(json!({ "response_action": "errors", "errors": { "why": "Say a little more" } })).into_response()
        }
        Inbound::Command(_) => axum::Json(json!({ "text": "Request received" })).into_response(),
        _ => axum::http::StatusCode::OK.into_response(),
    })
    .await;
    connect_bot(&sandbox, &bot).await;

    let run: Value = driver(
        &sandbox,
        "/personas/alex/command",
        json!({ "text": "global-admin T-1 rotate certs" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(run["ack"]["status"], 200);
    let Some(Inbound::Command(command)) = rx.recv().await else {
        panic!("no command")
    };
    assert_eq!(
        (command.command.as_str(), command.text.as_str()),
        ("/request", "global-admin T-1 rotate certs")
    );
    assert_eq!(
        (command.user_id.as_str(), command.team_id.as_str()),
        (alex.as_str(), slack["teamId"].as_str().unwrap())
    );
    assert_eq!(
        command.channel_id,
        slack["users"]["alex"]["dmChannelId"].as_str().unwrap()
    );
    let seen = driver_get(&sandbox, "/personas/alex/conversations/dm").await;
    assert_eq!(seen["messages"][0]["text"], "Request received");
    assert_eq!(seen["messages"][0]["ephemeral"], true);

    let posted = raw_call(&sandbox, token, "chat.postMessage", json!({
        "channel": command.channel_id, "text": "Approve?",
        "blocks": [{ "type": "actions", "block_id": "decide", "elements": [
            { "type": "button", "action_id": "approve", "style": "primary", "value": "req-1", "text": { "type": "plain_text", "text": "Approve" } }]}],
    })).await;
    let ts = posted["ts"].as_str().unwrap();
    let clicked: Value = driver(
        &sandbox,
        "/personas/alex/click",
        json!({ "channel": "dm", "ts": ts, "actionId": "approve" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(clicked["ack"]["status"], 200);
    let Some(Inbound::Interaction(Interaction::BlockActions(click))) = rx.recv().await else {
        panic!("no click")
    };
    assert_eq!(click.message_ref(), Some((command.channel_id.as_str(), ts)));
    assert_eq!(
        (
            click.actions[0].action_id.as_str(),
            click.actions[0].value.as_deref()
        ),
        ("approve", Some("req-1"))
    );
    assert_eq!(click.user.id, alex);
    assert_eq!(click.trigger_id, clicked["triggerId"].as_str().unwrap());

    let view: Value = serde_json::from_str(MODAL).unwrap();
    let opened = raw_call(
        &sandbox,
        token,
        "views.open",
        json!({ "trigger_id": click.trigger_id, "view": view }),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    // Slack's client enforces min_length; `force` sends it anyway.
    let refused = driver(
        &sandbox,
        "/personas/alex/submit",
        json!({ "values": { "why": { "text": "short" } } }),
    )
    .await;
    assert_eq!(refused.status(), 422);
    let short: Value = driver(
        &sandbox,
        "/personas/alex/submit",
        json!({ "values": { "why": { "text": "short" } }, "force": true }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(short["responseAction"], "errors");
    assert_eq!(short["errors"]["why"], "Say a little more");
    assert_eq!(
        short["view"]["id"], opened["view"]["id"],
        "the modal stays open"
    );
    let Some(Inbound::Interaction(Interaction::ViewSubmission(first))) = rx.recv().await else {
        panic!("no submission")
    };
    assert_eq!(
        (
            first.view.callback_id.as_str(),
            first.view.private_metadata.as_str()
        ),
        ("justify", "req-1")
    );
    let done: Value = driver(
        &sandbox,
        "/personas/alex/submit",
        json!({ "values": { "why": { "text": "rotating the break-glass cert" } } }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        done["view"].is_null(),
        "an empty ack closes the modal: {done}"
    );
    let views = driver_get(&sandbox, "/personas/alex/views").await;
    assert!(views["views"].as_array().unwrap().is_empty());

    // The click and both submissions the bot got (not the one the client
    // refused) are noted on the message the modal was opened from.
    let moments = message_moments(&sandbox, &command.channel_id, ts);
    let clicks: Vec<&str> = moments
        .clicked
        .iter()
        .map(|(who, _)| who.as_str())
        .collect();
    assert_eq!(clicks, [alex.as_str(); 3], "{moments:?}");
    assert!(moments.clicked.is_sorted_by_key(|(_, at)| *at));
}

/// What the emulator noted about message `ts` in `channel`.
fn message_moments(
    sandbox: &crate::helpers::TestSandbox,
    channel: &str,
    ts: &str,
) -> stagegate_sandbox::moments::MessageMoments {
    let mut slack = sandbox.state.slack.lock();
    slack
        .channels
        .get_mut(channel)
        .and_then(|c| c.message_mut(ts))
        .expect("the message")
        .moments
        .clone()
}

#[tokio::test]
async fn a_bot_that_misses_the_ack_deadline_is_recorded() {
    let sandbox = spawn_sandbox().await;
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            "too late"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // The deadline is lowered so the test does not wait Slack's full 3 s.
    let set = driver(
        &sandbox,
        "/bot",
        json!({ "commands": url, "ackTimeoutMs": 200 }),
    )
    .await;
    assert_eq!(set.status(), 200);
    let run: Value = driver(&sandbox, "/personas/alex/command", json!({ "text": "x" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(run["ack"]["timedOut"], true);
    let log = driver_get(&sandbox, "/calls").await;
    assert_eq!(log["deliveries"][0]["timedOut"], true);
    let seen = driver_get(&sandbox, "/personas/alex/conversations/dm").await;
    assert_eq!(
        seen["messages"][0]["text"],
        "/request failed with the error \"operation_timeout\""
    );
}
