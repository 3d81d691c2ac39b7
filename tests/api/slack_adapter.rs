//! The Slack adapter's refusals and edges, through the emulated Slack: the
//! modal's validation, who may decide (the signed user, never the payload),
//! replays and concurrent decisions, and the 3 s acknowledgement when Graph
//! is slow.

use serde_json::{Value, json};

use crate::helpers::eventually;
use crate::slack_app_support::{buttons, shown, spawn_slack_app};

fn stage_decided(
    app: &crate::slack_app_support::SlackApp,
    request: &str,
) -> Option<(String, String)> {
    let world = app.sandbox.state.world();
    let stage = &world.requests[request].stages[0];
    (!stage.review_result.is_empty() && stage.review_result != "NotReviewed").then(|| {
        (
            stage.review_result.clone(),
            stage.reviewed_by.clone().unwrap_or_default(),
        )
    })
}

/// A request waiting for Miriam, whose decision form she has opened by
/// clicking Approve on its card.
async fn miriam_opened_the_decision_form() -> (crate::slack_app_support::SlackApp, String) {
    let app = spawn_slack_app().await;
    let request = app
        .requested(
            &["miriam"],
            "global-admin TICKET-123 rotate the certificate",
        )
        .await;
    let card = app.live_card("miriam").await;
    let click = app
        .click("miriam", card["ts"].as_str().unwrap(), "approve")
        .await;
    assert_eq!(click.status(), 200);
    (app, request)
}

#[tokio::test]
async fn blank_justification_keeps_the_modal_open_with_an_error_on_its_block() {
    let (app, request) = miriam_opened_the_decision_form().await;
    // Whitespace passes Slack's client-side min_length; the bot refuses it.
    let answer = app.submit("miriam", "   ", false).await;
    assert_eq!(answer["responseAction"], "errors", "{answer}");
    let error = answer["errors"]["justification"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("blank"), "{answer}");
    assert_eq!(app.views("miriam").await.len(), 1, "the modal stays open");
    app.settle().await;
    assert_eq!(stage_decided(&app, &request), None, "nothing reached Graph");
    // Correcting it closes the modal and records the decision.
    let answer = app.submit("miriam", "Known incident", false).await;
    assert_eq!(answer["responseAction"], "clear", "{answer}");
    let (result, by) = eventually(|| async { stage_decided(&app, &request) }).await;
    assert_eq!(
        (result.as_str(), by),
        ("Approved", app.sandbox.persona_id("miriam"))
    );
}

#[tokio::test]
async fn a_non_approver_cannot_decide_even_with_the_cards_metadata() {
    let app = spawn_slack_app().await;
    let request = app
        .requested(
            &["miriam", "megan"],
            "global-admin TICKET-123 rotate the certificate",
        )
        .await;
    let metadata = app.approve_metadata("miriam").await;
    // Megan's own signed submission carrying Miriam's request and stage.
    let body = app.submission_body("megan", &metadata, "let me in");
    let answer = app.signed_post("/api/slack/interactions", &body).await;
    assert_eq!(answer.status(), 200);
    let refusal = app
        .wait_dm("megan", |m| shown(m).contains("not an approver"))
        .await;
    assert!(!shown(&refusal).contains("Recorded"));
    assert_eq!(stage_decided(&app, &request), None, "Graph has no decision");
    // Miriam's card is still live.
    assert!(
        buttons(&app.live_card("miriam").await)
            .iter()
            .any(|(a, _)| a == "approve")
    );
}

#[tokio::test]
async fn a_replayed_submission_acts_once() {
    let app = spawn_slack_app().await;
    let request = app
        .requested(
            &["miriam"],
            "global-admin TICKET-123 rotate the certificate",
        )
        .await;
    let metadata = app.approve_metadata("miriam").await;
    let body = app.submission_body("miriam", &metadata, "Known incident");
    let first = app.signed_post("/api/slack/interactions", &body).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first, json!({ "response_action": "clear" }));
    // Slack's retry of the same bytes: acknowledged, not acted on.
    let again = app.signed_post("/api/slack/interactions", &body).await;
    assert_eq!(again.status(), 200);
    eventually(|| async { stage_decided(&app, &request) }).await;
    app.wait_dm("miriam", |m| shown(m).contains("Recorded"))
        .await;
    app.settle().await;
    let replies = app
        .dm("miriam")
        .await
        .into_iter()
        .filter(|m| {
            let t = shown(m);
            !t.contains("link") && !t.contains("Access request")
        })
        .count();
    assert_eq!(replies, 1, "one decision, one answer");
}

#[tokio::test]
async fn two_approvers_at_once_one_decision_reaches_graph_and_both_see_it() {
    let app = spawn_slack_app().await;
    let request = app
        .requested(
            &["lee", "isaiah"],
            "helpdesk-admin TICKET-124 reset a password",
        )
        .await;
    let (lee, isaiah) = (app.live_card("lee").await, app.live_card("isaiah").await);
    assert_eq!(
        app.click("lee", lee["ts"].as_str().unwrap(), "approve")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.click("isaiah", isaiah["ts"].as_str().unwrap(), "deny")
            .await
            .status(),
        200
    );
    let (a, b) = tokio::join!(
        app.submit("lee", "fine by me", false),
        app.submit("isaiah", "not today", false)
    );
    assert_eq!(
        (a["responseAction"].as_str(), b["responseAction"].as_str()),
        (Some("clear"), Some("clear"))
    );
    let (result, by) = eventually(|| async { stage_decided(&app, &request) }).await;
    let expected = if result == "Approved" {
        "lee"
    } else {
        "isaiah"
    };
    assert_eq!(
        by,
        app.sandbox.persona_id(expected),
        "the decision is its maker's"
    );
    for key in ["lee", "isaiah"] {
        let card = app.wait_dm(key, |m| shown(m).contains("Outcome")).await;
        assert!(
            buttons(&card).is_empty(),
            "{key}'s card has no live buttons"
        );
        assert!(shown(&card).contains(&result), "{key} sees {result}");
    }
}

#[tokio::test]
async fn the_ack_holds_within_3s_when_graph_is_slow() {
    let app = spawn_slack_app().await;
    app.link("alex").await;
    let fault = app
        .sandbox
        .http
        .post(app.sandbox.url("/sim/faults"))
        .json(&json!({ "path": "/*", "delayMs": 4000 }))
        .send()
        .await
        .unwrap();
    assert!(fault.status().is_success());
    let started = std::time::Instant::now();
    let answer = app.command("alex", "/stagegate", "status").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{answer}"
    );
    assert_eq!(answer["ack"]["status"], 200, "{answer}");
    assert_ne!(answer["ack"]["timedOut"], true, "{answer}");
    let dm = app.dm("alex").await;
    assert!(
        dm.iter().any(|m| shown(m).contains("Working on it")),
        "{dm:?}"
    );
    // The real answer follows through the response_url.
    let late = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let dm = app.dm("alex").await;
            if let Some(m) = dm.iter().rev().find(|m| {
                let t = shown(m);
                !t.contains("Working on it") && !t.contains("linked as") && m["ephemeral"] == true
            }) {
                return m.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the answer arrives later");
    assert!(!shown(&late).is_empty());
}

#[tokio::test]
async fn unknown_commands_actions_and_forms_get_a_clear_answer() {
    let app = spawn_slack_app().await;
    let team = app.slack["teamId"].as_str().unwrap().to_owned();
    let user = app.user_id("alex");
    let form = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    };
    // An unknown slash command.
    let body = form(&[
        ("command", "/frobnicate"),
        ("text", "now"),
        ("response_url", "http://127.0.0.1:9/unused"),
        ("trigger_id", "1.2.3"),
        ("user_id", &user),
        ("team_id", &team),
        ("api_app_id", app.slack["appId"].as_str().unwrap()),
        ("channel_id", "D0000000001"),
    ]);
    let answer = app.signed_post("/api/slack/commands", &body).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert!(
        answer["text"].as_str().unwrap().contains("/frobnicate"),
        "{answer}"
    );
    // A form that is not ours.
    let mut payload: Value = serde_json::from_str(
        &url::form_urlencoded::parse(app.submission_body("alex", "{}", "x").as_bytes())
            .next()
            .unwrap()
            .1,
    )
    .unwrap();
    payload["view"]["callback_id"] = json!("someone_elses_form");
    let body = form(&[("payload", &payload.to_string())]);
    let answer: Value = app
        .signed_post("/api/slack/interactions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["response_action"], "update", "{answer}");
    // A button whose value is not an action: told so in the DM.
    let click = json!({
        "type": "block_actions", "user": { "id": user, "team_id": team },
        "team": { "id": team }, "api_app_id": app.slack["appId"], "trigger_id": "1.2.3",
        "container": { "type": "message", "message_ts": "1.000001", "channel_id": "D0000000001" },
        "actions": [ { "type": "button", "action_id": "approve", "block_id": "decision",
                       "value": "{\"action\":\"launch\"}", "action_ts": "1.1" } ],
    });
    let body = form(&[("payload", &click.to_string())]);
    let answer = app.signed_post("/api/slack/interactions", &body).await;
    assert_eq!(answer.status(), 200);
    app.wait_dm("alex", |m| shown(m).contains("isn't one I know"))
        .await;
    // A request Slack did not sign is refused before any parsing.
    let forged = reqwest::Client::new()
        .post(format!("{}/api/slack/commands", app.address))
        .header(
            "x-slack-request-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("x-slack-signature", format!("v0={}", "0".repeat(64)))
        .body("command=/request&text=global-admin")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

/// A decision Graph takes longer than Slack's 3 s to record is never
/// confirmed by closing the form: the form says it is still being recorded,
/// and the approver hears once Graph has it. (A form closed at once would
/// tell them it was done while a crash could still lose it.)
#[tokio::test]
async fn a_slow_decision_is_not_confirmed_before_graph_has_it() {
    let (app, request) = miriam_opened_the_decision_form().await;
    crate::helpers::delay_graph_patches(&app.sandbox, 4000).await;
    let answer = app.submit("miriam", "Known incident", false).await;
    assert_eq!(answer["ack"]["status"], 200, "{answer}");
    assert_ne!(answer["ack"]["timedOut"], true, "{answer}");
    assert_eq!(answer["responseAction"], "update", "{answer}");
    assert!(answer.to_string().contains("Still recording"), "{answer}");
    assert_eq!(stage_decided(&app, &request), None, "not in Graph yet");
    // Graph records it once the slow answer completes, and the card retires.
    let decided = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if let Some(decided) = stage_decided(&app, &request) {
                return decided;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("Graph records the decision");
    assert_eq!(
        decided,
        ("Approved".to_owned(), app.sandbox.persona_id("miriam"))
    );
}
