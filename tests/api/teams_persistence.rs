//! Teams conversation references outlive the process: after a restart on
//! the same database the bot still reaches a person's 1:1 chat and the
//! channel it was added to, without any new activity from them.

use stagegate::chat::identity::ChatIdentity;
use stagegate::chat::port::{ChatPort, Message, Recipient};

use crate::teams_adapter_support::{TeamsApp, card_text, spawn_teams_app_with};

/// A serviceUrl nobody listens on: after the restart the bot may not create
/// conversations, only use the ones it stored.
const DEAD_SERVICE_URL: &str = "http://127.0.0.1:9/teams/";

fn note(text: &str) -> Message {
    Message::Text { text: text.into() }
}

fn miriam(app: &TeamsApp) -> Recipient {
    Recipient::Person {
        identity: ChatIdentity {
            platform: "teams".into(),
            workspace: app.sandbox.state.tenant_id(),
            user: app.sandbox.persona_id("miriam"),
        },
    }
}

async fn texts_of(app: &TeamsApp, key: &str) -> Vec<String> {
    app.cards(key)
        .await
        .iter()
        .map(|(_, c)| card_text(c))
        .collect()
}

#[tokio::test]
async fn a_persons_chat_is_reached_after_a_restart() {
    let app = spawn_teams_app_with(|_| {}).await;
    app.install("miriam").await;

    let app = app
        .restart_with(|s| {
            if let Some(teams) = s.teams.as_mut() {
                teams.service_url = DEAD_SERVICE_URL.into();
            }
        })
        .await;
    app.bot
        .port
        .post(&miriam(&app), &note("after the restart"))
        .await
        .expect("the stored 1:1 conversation is used");
    assert!(
        texts_of(&app, "miriam")
            .await
            .iter()
            .any(|t| t.contains("after the restart")),
        "{:?}",
        texts_of(&app, "miriam").await
    );
}

#[tokio::test]
async fn without_a_stored_reference_the_dead_service_url_is_all_there_is() {
    // The control for the test above: nothing stored, so the port must try
    // to create the chat at the configured serviceUrl, and that fails.
    let app = spawn_teams_app_with(|s| {
        if let Some(teams) = s.teams.as_mut() {
            teams.service_url = DEAD_SERVICE_URL.into();
        }
    })
    .await;
    let sent = app.bot.port.post(&miriam(&app), &note("hello")).await;
    assert!(sent.is_err(), "{sent:?}");
}

#[tokio::test]
async fn the_captured_security_channel_is_reached_after_a_restart() {
    let no_configured_channel = |s: &mut stagegate::config::Settings| {
        if let Some(teams) = s.teams.as_mut() {
            teams.security_channel = None;
        }
    };
    let app = spawn_teams_app_with(no_configured_channel).await;
    app.install_in_team().await;

    let app = app.restart_with(no_configured_channel).await;
    // The engine names a channel that does not exist: only the channel
    // captured at install (and stored) can receive the post.
    let to = Recipient::SecurityChannel {
        channel: "19:not-a-channel@thread.tacv2".into(),
    };
    app.bot
        .port
        .post(&to, &note("alert after the restart"))
        .await
        .expect("the captured channel is used");
    assert!(
        app.alerts()
            .await
            .iter()
            .any(|c| card_text(c).contains("alert after the restart"))
    );
}

/// Activity ids already handled are remembered in the database: the same
/// activity sent again after a restart is answered as a replay, not acted on.
#[tokio::test]
async fn an_activity_replayed_after_a_restart_is_recognised() {
    use crate::teams_adapter_support::execute;
    let app = spawn_teams_app_with(|_| {}).await;
    app.install("alex").await;
    let click = execute("activate", serde_json::json!({ "request": "nope" }));
    // Acted on (refused, as its card data is not a request's: a 400).
    let (status, first) = app
        .raw_invoke("alex", "f:replayed-1", "1:unknown", click.clone())
        .await;
    assert_eq!(status, 400, "{first}");

    let app = app.restart_with(|_| {}).await;
    let (status, again) = app
        .raw_invoke("alex", "f:replayed-1", "1:unknown", click)
        .await;
    assert_eq!(status, 200);
    assert!(
        again
            .to_string()
            .contains("This click was already received."),
        "{again}"
    );
}
