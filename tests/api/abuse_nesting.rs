//! Deeply nested JSON at every inbound endpoint: a clear 4xx, never a 5xx
//! or a stack overflow, and the bot keeps serving afterwards.

use crate::slack_app_support::spawn_slack_app;
use crate::teams_adapter_support::spawn_teams_app;

/// `{"type":"message","value":[[[[…]]]]}`, `depth` arrays deep.
fn nested(depth: usize) -> String {
    format!(
        "{{\"type\":\"message\",\"value\":{}{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

const DEPTH: usize = 100_000;

#[tokio::test]
async fn a_deeply_nested_teams_activity_is_refused_and_the_bot_goes_on() {
    let app = spawn_teams_app().await;
    let app_id = app.sandbox.state.world().app.client_id.clone();
    let service_url = format!("{}/teams/", app.sandbox.base_url);
    let token = app.sandbox.state.teams.channel_token(&app_id, &service_url);
    let response = app
        .sandbox
        .http
        .post(format!("{}/api/teams/messages", app.address))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(nested(DEPTH))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!((400..500).contains(&status), "got {status}");

    app.install("alex").await;
    let answer = app.say("alex", "help").await;
    assert_eq!(answer["bot"]["status"], 200, "{answer}");
}

#[tokio::test]
async fn a_deeply_nested_slack_payload_is_refused_and_the_bot_goes_on() {
    let app = spawn_slack_app().await;
    let payload: String = url::form_urlencoded::byte_serialize(nested(DEPTH).as_bytes()).collect();
    let response = app
        .signed_post("/api/slack/interactions", &format!("payload={payload}"))
        .await;
    let status = response.status().as_u16();
    assert!((400..500).contains(&status), "got {status}");

    let answer = app.command("alex", "/stagegate", "help").await;
    assert_eq!(answer["ack"]["status"], 200, "{answer}");
}

#[tokio::test]
async fn a_deeply_nested_graph_notification_is_refused_and_the_bot_goes_on() {
    let app = spawn_teams_app().await;
    let url = format!("{}/api/graph/notifications", app.address);
    let body = format!("{{\"value\":{}{}}}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let response = app
        .sandbox
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert!((400..500).contains(&status), "got {status}");
    let health = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
