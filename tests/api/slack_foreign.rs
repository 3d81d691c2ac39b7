//! Finding 6 of issue 19, on the decision path: a correctly signed click or
//! decision form on a real, live card, but naming another app or another
//! workspace, is refused and never decided, even when the signed user is
//! the stage's linked approver (slack_origin.rs covers commands and an
//! unknown button).

use serde_json::{Value, json};

use crate::slack_app_support::{SlackApp, spawn_slack_app};

fn decided(app: &SlackApp, request: &str) -> bool {
    let world = app.sandbox.state.world();
    let stage = &world.requests[request].stages[0];
    !stage.review_result.is_empty() && stage.review_result != "NotReviewed"
}

fn form(payload: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

#[tokio::test]
async fn a_signed_decision_from_another_app_or_workspace_is_refused_and_never_decided() {
    let app = spawn_slack_app().await;
    let request = app
        .requested(
            &["miriam"],
            "global-admin TICKET-123 rotate the certificate",
        )
        .await;
    let card = app.live_card("miriam").await;
    let metadata = app.approve_metadata("miriam").await;
    let own: Value = serde_json::from_str(
        &url::form_urlencoded::parse(
            app.submission_body("miriam", &metadata, "Known incident")
                .as_bytes(),
        )
        .next()
        .unwrap()
        .1,
    )
    .unwrap();

    // The decision form, as Miriam's, but for another app.
    let mut other_app = own.clone();
    other_app["api_app_id"] = json!("AFOREIGN01");
    let answer: Value = app
        .signed_post("/api/slack/interactions", &form(&other_app))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["response_action"], "update", "{answer}");
    assert!(answer.to_string().contains("does not serve this Slack app"));

    // …and from another workspace.
    let mut other_team = own.clone();
    other_team["team"]["id"] = json!("TFOREIGN01");
    other_team["user"]["team_id"] = json!("TFOREIGN01");
    let answer: Value = app
        .signed_post("/api/slack/interactions", &form(&other_team))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        answer
            .to_string()
            .contains("does not serve this Slack workspace"),
        "{answer}"
    );

    // The Approve click itself, for another app: 403, no modal opened.
    let click = json!({
        "type": "block_actions",
        "user": { "id": app.user_id("miriam"), "team_id": app.slack["teamId"] },
        "team": { "id": app.slack["teamId"] }, "api_app_id": "AFOREIGN01",
        "trigger_id": "1.2.3",
        "container": { "type": "message", "message_ts": card["ts"],
                       "channel_id": app.slack["users"]["miriam"]["dmChannelId"] },
        "actions": [ { "type": "button", "action_id": "approve", "block_id": "decision",
                       "value": metadata, "action_ts": "1.1" } ],
    });
    let answer = app
        .signed_post("/api/slack/interactions", &form(&click))
        .await;
    assert_eq!(answer.status(), 403);
    assert!(app.views("miriam").await.is_empty(), "no form was opened");

    app.settle().await;
    assert!(!decided(&app, &request), "Graph has no decision");
    // The genuine form still works: the refusals changed nothing.
    let answer: Value = app
        .signed_post("/api/slack/interactions", &form(&own))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer, json!({ "response_action": "clear" }));
    crate::helpers::eventually(|| async { decided(&app, &request).then_some(()) }).await;
}
