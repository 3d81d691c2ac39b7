//! Security channels the bot cannot reach: an alert to one is not retried
//! but counted (`/healthz`) and still goes to the other channels, and
//! `/readyz` waits until one channel is reachable.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use stagegate::config::SecurityChannelSettings;

use crate::helpers::spawn_sandbox;
use crate::teams_adapter_support::{TeamsApp, spawn_teams_app, spawn_teams_app_on};

async fn get(app: &TeamsApp, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", app.address))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_alert_a_channel_cannot_take_is_counted_and_reaches_the_other_channel() {
    let sandbox = Arc::new(spawn_sandbox().await);
    let slack_channel = sandbox
        .state
        .slack
        .security_channel_id()
        .expect("the Slack security channel");
    let also_slack = slack_channel.clone();
    // The bot is not in the Teams channel's team (never installed there).
    let app = spawn_teams_app_on(sandbox, move |s| {
        s.engine.security_channels.push(SecurityChannelSettings {
            platform: "slack".into(),
            channel: also_slack,
        });
    })
    .await;
    // Linking a chat account raises a security alert.
    app.link("alex").await;
    app.settle().await;
    let (status, health) = get(&app, "/healthz").await;
    assert_eq!(status, 200);
    let security = &health["security"];
    assert_eq!(security["undelivered_alerts"], 1, "{health}");
    let teams = security["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == "teams")
        .cloned()
        .unwrap();
    assert_eq!(teams["state"], "unreachable", "{health}");
    assert!(
        teams["reason"].as_str().unwrap().contains("Bot"),
        "{health}"
    );
    // The Slack channel has it.
    let slack = app.sandbox.state.slack.lock();
    let posted = &slack.channels[&slack_channel].messages;
    assert!(
        posted.iter().any(|m| m.text.contains("linked")),
        "{:?}",
        posted.iter().map(|m| &m.text).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn readyz_waits_for_a_reachable_security_channel() {
    let app = spawn_teams_app().await;
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("security channel"),
        "{body}"
    );
    // Installed in the channel's team (as the sandbox does after start):
    // ready at the next check.
    app.install_in_team().await;
    let ready = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if get(&app, "/readyz").await.0 == 200 {
                return;
            }
            // `/readyz` is polled, as an orchestrator does: no signal.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "ready once the channel is reachable");
    let (_, health) = get(&app, "/healthz").await;
    assert_eq!(health["security"]["channels"][0]["state"], "reachable");
}
