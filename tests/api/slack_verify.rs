//! The bot's Slack request verification (docs/architecture.md, "Slack
//! request signing") and payload parsing, against Slack's official test
//! vector and the SDKs' fixtures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::Value;
use sha2::Sha256;
use stagegate::chat::slack::payload::{Container, Inbound, Interaction};
use stagegate::chat::slack::{ReplayGuard, SlackVerifier, VerifyError};
use stagegate::store::replay::ReplayScope;
use stagegate::store::{ReplayStore, SqliteStore};

use crate::slack_support::{fixture, spawn_bot};

fn vector() -> Value {
    serde_json::from_str(&fixture("signing_vector_slash_command.json")).unwrap()
}

fn headers(ts: &str, signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-slack-request-timestamp",
        HeaderValue::from_str(ts).unwrap(),
    );
    h.insert(
        "x-slack-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    h
}

/// Test-side signer, written from the spec (not the code under test).
fn sign(secret: &str, ts: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn verifier(secret: &str) -> SlackVerifier {
    SlackVerifier::new(SecretString::from(secret.to_owned()))
}

#[test]
fn official_vector_verifies_and_tampering_fails() {
    let v = vector();
    let (secret, ts, body, sig) = (
        v["signing_secret"].as_str().unwrap(),
        v["x_slack_request_timestamp"].as_str().unwrap(),
        v["body"].as_str().unwrap(),
        v["x_slack_signature"].as_str().unwrap(),
    );
    let now: i64 = ts.parse().unwrap();
    let good = verifier(secret);
    assert!(
        good.verify_at(now, &headers(ts, sig), Bytes::from(body.to_owned()))
            .is_ok()
    );
    // Our test signer agrees with Slack's vector, so the other cases mean something.
    assert_eq!(sign(secret, now, body), sig);

    let mut flipped = body.as_bytes().to_vec();
    flipped[10] ^= 1;
    assert_eq!(
        good.verify_at(now, &headers(ts, sig), Bytes::from(flipped))
            .unwrap_err(),
        VerifyError::SignatureMismatch
    );
    assert_eq!(
        verifier("wrong-secret")
            .verify_at(now, &headers(ts, sig), Bytes::from(body.to_owned()))
            .unwrap_err(),
        VerifyError::SignatureMismatch
    );
    for bad in [
        sig.replace("v0=", "v1="),
        sig.trim_start_matches("v0=").to_owned(),
        sig.to_uppercase().replace("V0=", "v0="),
    ] {
        assert_eq!(
            good.verify_at(now, &headers(ts, &bad), Bytes::from(body.to_owned()))
                .unwrap_err(),
            VerifyError::BadSignatureFormat,
            "{bad}"
        );
    }
}

#[test]
fn missing_duplicate_and_malformed_headers_are_refused() {
    let v = verifier("s3cret");
    let body = Bytes::from_static(b"command=%2Frequest");
    let now = 1_700_000_000;
    let sig = sign("s3cret", now, "command=%2Frequest");
    let mut only_sig = HeaderMap::new();
    only_sig.insert("x-slack-signature", HeaderValue::from_str(&sig).unwrap());
    assert_eq!(
        v.verify_at(now, &only_sig, body.clone()).unwrap_err(),
        VerifyError::MissingHeader("X-Slack-Request-Timestamp")
    );
    let mut only_ts = HeaderMap::new();
    only_ts.insert("x-slack-request-timestamp", HeaderValue::from(now));
    assert_eq!(
        v.verify_at(now, &only_ts, body.clone()).unwrap_err(),
        VerifyError::MissingHeader("X-Slack-Signature")
    );
    let mut twice = headers(&now.to_string(), &sig);
    twice.append("x-slack-signature", HeaderValue::from_str(&sig).unwrap());
    assert_eq!(
        v.verify_at(now, &twice, body.clone()).unwrap_err(),
        VerifyError::DuplicateHeader("X-Slack-Signature")
    );
    for ts in ["soon", "+1700000000", "", "1.7e9"] {
        assert_eq!(
            v.verify_at(now, &headers(ts, &sig), body.clone())
                .unwrap_err(),
            VerifyError::BadTimestamp,
            "{ts:?}"
        );
    }
}

#[test]
fn timestamp_window_is_300_seconds_both_ways() {
    let v = verifier("s3cret");
    let now = 1_700_000_000;
    let body = "text=hi";
    let check = |ts: i64| {
        v.verify_at(
            now,
            &headers(&ts.to_string(), &sign("s3cret", ts, body)),
            Bytes::from(body),
        )
    };
    assert!(check(now - 300).is_ok(), "300 s old is still inside");
    assert!(check(now + 300).is_ok(), "300 s ahead is still inside");
    assert_eq!(
        check(now - 301).unwrap_err(),
        VerifyError::StaleTimestamp { skew: 301 }
    );
    assert_eq!(
        check(now + 301).unwrap_err(),
        VerifyError::StaleTimestamp { skew: -301 }
    );
}

#[tokio::test]
async fn replayed_request_is_seen_once_until_it_leaves_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("replay.db"), 2)
            .await
            .unwrap(),
    );
    let v = verifier("s3cret");
    let guard = ReplayGuard::new(store.clone());
    let ts = 1_700_000_000;
    let body = "payload=%7B%7D";
    let h = headers(&ts.to_string(), &sign("s3cret", ts, body));
    let first = v.verify_at(ts, &h, Bytes::from(body)).unwrap();
    assert!(guard.first_sight_at(ts, &first).await.unwrap());
    // The identical bytes 10 s later: still valid, but a replay, also for
    // another guard on the same database (a restarted bot, a replica).
    let again = v.verify_at(ts + 10, &h, Bytes::from(body)).unwrap();
    assert!(!guard.first_sight_at(ts + 10, &again).await.unwrap());
    let restarted = ReplayGuard::new(store.clone());
    assert!(!restarted.first_sight_at(ts + 300, &again).await.unwrap());
    // Once outside the window the verifier itself refuses it, and its
    // record is purged by the next request a minute later (bounded table).
    assert!(matches!(
        v.verify_at(ts + 301, &h, Bytes::from(body)),
        Err(VerifyError::StaleTimestamp { .. })
    ));
    let other_ts = ts + 361;
    let other = v
        .verify_at(
            other_ts,
            &headers(&other_ts.to_string(), &sign("s3cret", other_ts, body)),
            Bytes::from(body),
        )
        .unwrap();
    assert!(restarted.first_sight_at(other_ts, &other).await.unwrap());
    assert_eq!(store.replay_records(ReplayScope::Slack).await.unwrap(), 1);
    // Only a digest of the MAC is kept, never the signature itself.
    let digests: Vec<(String,)> = sqlx::query_as("SELECT digest FROM replay_guard")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let signature = sign("s3cret", other_ts, body);
    assert!(digests.iter().all(|(d,)| !signature.contains(d.as_str())));
}

#[tokio::test]
async fn concurrent_first_sights_of_one_request_admit_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("replay.db"), 8)
            .await
            .unwrap(),
    );
    let ts = chrono::Utc::now().timestamp();
    let body = "command=%2Frequest";
    let request = verifier("s3cret")
        .verify_at(
            ts,
            &headers(&ts.to_string(), &sign("s3cret", ts, body)),
            Bytes::from(body),
        )
        .unwrap();
    // Eight "replicas", each with its own guard on the shared database.
    let attempts = (0..8).map(|_| {
        let (guard, request) = (ReplayGuard::new(store.clone()), request.clone());
        tokio::spawn(async move { guard.first_sight_at(ts, &request).await.unwrap() })
    });
    let mut admitted = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        admitted += usize::from(attempt.await.unwrap());
    }
    assert_eq!(admitted, 1);
}

#[tokio::test]
async fn extractor_refuses_unsigned_requests_with_an_empty_401_before_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let (bot, _rx) = spawn_bot("s3cret", move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        axum::response::IntoResponse::into_response(axum::http::StatusCode::OK)
    })
    .await;
    let http = reqwest::Client::new();
    let url = format!("{bot}/slack/commands");
    let body = "command=%2Frequest&text=global-admin&user_id=U1&team_id=T1&channel_id=D1&response_url=x&trigger_id=1.2.a";
    let now = chrono::Utc::now().timestamp();
    let send = |ts: i64, sig: String, body: &'static str| {
        http.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sig)
            .body(body)
            .send()
    };
    let good = send(now, sign("s3cret", now, body), body).await.unwrap();
    assert_eq!(good.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let bad_cases = [
        send(now, sign("other", now, body), body).await.unwrap(),
        send(now - 400, sign("s3cret", now - 400, body), body)
            .await
            .unwrap(),
        send(now, sign("s3cret", now, "text=tampered"), body)
            .await
            .unwrap(),
        http.post(&url).body(body).send().await.unwrap(),
    ];
    for response in bad_cases {
        assert_eq!(response.status(), 401);
        assert!(response.text().await.unwrap().is_empty());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no refused request reached the handler"
    );

    // ssl_check: 200 and nothing processed, even smuggled next to a payload.
    let ssl = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{body}&ssl_check=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(ssl.status(), 200);
    assert!(ssl.text().await.unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let huge = "a".repeat(300 * 1024);
    let too_big = http
        .post(&url)
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", sign("s3cret", now, &huge))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
}

#[test]
fn fixture_slash_commands_parse() {
    for (file, command, text) in [
        (
            "slash_command_webhook_collect.form.txt",
            "/webhook-collect",
            "",
        ),
        (
            "slash_command_weather__java.form.txt",
            "/weather-123",
            "94070",
        ),
        (
            "slash_command_hello_world__bolt_python.form.txt",
            "/hello-world",
            "Hi",
        ),
        (
            "slash_command_hello_bolt_js__bolt_js.form.txt",
            "/hello-bolt-js",
            "",
        ),
    ] {
        let Inbound::Command(parsed) = Inbound::parse_body(fixture(file).as_bytes()).unwrap()
        else {
            panic!("{file} is not a command");
        };
        assert_eq!(
            (parsed.command.as_str(), parsed.text.as_str()),
            (command, text),
            "{file}"
        );
        assert!(!parsed.trigger_id.is_empty() && parsed.response_url.starts_with("https://"));
    }
    let Inbound::Command(java) =
        Inbound::parse_body(fixture("slash_command_weather__java.form.txt").as_bytes()).unwrap()
    else {
        unreachable!()
    };
    assert_eq!(
        java.enterprise_name.as_deref(),
        Some("Globular Construct Inc")
    );
    let Inbound::Command(js) =
        Inbound::parse_body(fixture("slash_command_hello_bolt_js__bolt_js.form.txt").as_bytes())
            .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(js.is_enterprise_install.as_deref(), Some("false"));
}

fn as_form(json_fixture: &str) -> String {
    let compact: Value = serde_json::from_str(&fixture(json_fixture)).unwrap();
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &compact.to_string())
        .finish()
}

#[test]
fn fixture_interactions_parse() {
    let Inbound::Interaction(Interaction::BlockActions(click)) = Inbound::parse_body(
        as_form("block_actions_message_button__bolt_python_respond.json").as_bytes(),
    )
    .unwrap() else {
        panic!("not block_actions");
    };
    assert_eq!(click.message_ref(), Some(("C111", "1678252213.679169")));
    assert_eq!(click.actions[0].action_id, "button");
    assert_eq!(click.message.as_ref().unwrap().blocks.len(), 1);

    let Inbound::Interaction(Interaction::BlockActions(ephemeral)) =
        Inbound::parse_body(as_form("block_actions_ephemeral_button__bolt_python.json").as_bytes())
            .unwrap()
    else {
        panic!("not block_actions");
    };
    assert!(ephemeral.message.is_none());
    assert!(matches!(
        ephemeral.container,
        Container::Message {
            is_ephemeral: true,
            ..
        }
    ));

    let Inbound::Interaction(Interaction::BlockActions(attachment)) = Inbound::parse_body(
        as_form("block_actions_attachment_container__java_docs_example.json").as_bytes(),
    )
    .unwrap() else {
        panic!("not block_actions");
    };
    assert!(matches!(
        attachment.container,
        Container::MessageAttachment {
            attachment_id: Some(1),
            ..
        }
    ));

    let Inbound::Interaction(Interaction::ViewSubmission(submit)) =
        Inbound::parse_body(as_form("view_submission_input__bolt_python.json").as_bytes()).unwrap()
    else {
        panic!("not view_submission");
    };
    assert_eq!(submit.view.input("hspI", "maBWU"), Some("test"));
    assert_eq!(submit.view.private_metadata, "This is for you!");

    let Inbound::Interaction(Interaction::ViewSubmission(with_urls)) = Inbound::parse_body(
        as_form("view_submission_with_response_urls__bolt_python.json").as_bytes(),
    )
    .unwrap() else {
        panic!("not view_submission");
    };
    assert_eq!(with_urls.response_urls[0].channel_id, "C111");
    assert!(with_urls.view.state.values.is_empty());
}
