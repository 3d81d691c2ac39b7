//! `teams.dev_no_auth`, the local mode for Microsoft 365 Agents Playground:
//! off by default, refused unless the bot listens on loopback only.
//! (The start and per-request warnings are in `chat::teams::wiring` and
//! `handlers`; the "on" path has no passing test yet.)

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
    settings.teams.as_mut().unwrap().dev_no_auth = true;
    let error = Application::build(settings)
        .await
        .err()
        .expect("a non-loopback bind is refused");
    assert!(error.to_string().contains("dev_no_auth"), "{error}");
}
