//! `teams.dev_no_auth`, the local mode for Microsoft 365 Agents Playground:
//! off by default, refused unless the bot listens on loopback only.
//! (The start and per-request warnings are in `chat::teams::wiring` and
//! `handlers`; the warnings are not asserted.)

use secrecy::SecretString;
use serde_json::json;
use stagegate::app::Application;

use crate::helpers::{loopback0, spawn_sandbox};
use crate::teams_adapter_support::spawn_teams_app;

#[tokio::test]
async fn off_by_default_so_unsigned_activities_get_401() {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let settings = sandbox
        .state
        .bot_settings(loopback0(), db.path().join("stagegate.db"));
    assert!(!settings.teams.as_ref().unwrap().dev_no_auth);
    // The documented default too: a [teams] section without the key.
    let parsed: stagegate::config::TeamsSettings =
        toml::from_str("app_id = \"a\"\napp_password = \"p\"").unwrap();
    assert!(!parsed.dev_no_auth);
    let app = spawn_teams_app().await;
    let status = app
        .sandbox
        .http
        .post(format!("{}/api/teams/messages", app.address))
        .json(&json!({ "type": "message", "text": "help",
                       "serviceUrl": format!("{}/teams/", app.sandbox.base_url) }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn refused_at_start_unless_listening_on_loopback() {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let mut settings = sandbox.state.bot_settings(
        std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
        db.path().join("stagegate.db"),
    );
    // Fresh secrets: the seeded tenant's app secret is shipped, and refused
    // off loopback by itself, before dev mode is looked at.
    settings.entra.client_secret = SecretString::from("a-fresh-client-secret-0123456789");
    let teams = settings.teams.as_mut().unwrap();
    teams.app_password = SecretString::from("a-fresh-app-password-0123456789");
    teams.dev_no_auth = true;
    let error = Application::build(settings)
        .await
        .err()
        .expect("a non-loopback bind is refused");
    assert!(error.to_string().contains("dev_no_auth"), "{error}");
}

#[tokio::test]
async fn when_on_unsigned_activities_are_served() {
    use crate::teams_adapter_support::{card_text, spawn_teams_app_with};
    use stagegate::sandbox::teams::{bot_id, personal_conversation_id, teams_user_id};

    let app = spawn_teams_app_with(|s| s.teams.as_mut().unwrap().dev_no_auth = true).await;
    app.install("alex").await;
    let alex = app.sandbox.persona_id("alex");
    let (app_id, tenant) = {
        let world = app.sandbox.state.world();
        (world.app.client_id.clone(), world.tenant_id.clone())
    };
    // No Authorization header at all, as the Playground sends it.
    let activity = json!({
        "type": "message", "id": "playground-1", "text": "help", "channelId": "msteams",
        "serviceUrl": format!("{}/teams/", app.sandbox.base_url),
        "from": { "id": teams_user_id(&app_id, &alex), "name": "Alex Wilber", "aadObjectId": alex },
        "conversation": { "conversationType": "personal", "tenantId": tenant,
                          "id": personal_conversation_id(&app_id, &alex) },
        "recipient": { "id": bot_id(&app_id) },
    });
    let before = app.cards("alex").await.len();
    let status = app
        .sandbox
        .http
        .post(format!("{}/api/teams/messages", app.address))
        .json(&activity)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    app.settle().await;
    let cards = app.cards("alex").await;
    assert_eq!(cards.len(), before + 1, "the bot answered");
    assert!(
        card_text(&cards[before].1)
            .to_lowercase()
            .contains("request")
    );
}
