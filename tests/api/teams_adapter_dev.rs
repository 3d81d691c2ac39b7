//! `teams.dev_no_auth`, the local mode for Microsoft 365 Agents Playground:
//! off by default; refused at start unless the bot listens on loopback and
//! Entra, Graph and the configured Bot Connector are on loopback; and even
//! then an unauthenticated body cannot steer the bot: JSON only, a loopback
//! Host only, and replies only to the configured `teams.service_url`.
//! (The start and per-request warnings are in `chat::teams::wiring` and
//! `handlers`; the warnings are not asserted.)

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use secrecy::SecretString;
use serde_json::{Value, json};
use stagegate::app::Application;
use stagegate::config::Settings;

use crate::helpers::{loopback0, spawn_sandbox};
use crate::teams_adapter_support::{TeamsApp, card_text, spawn_teams_app, spawn_teams_app_with};
use stagegate_lab::wiring::BotWiring;

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

/// Sandbox settings in dev mode whose secrets are fresh, so the start is
/// judged on dev mode alone (the seeded tenant's app secret is shipped and
/// refused off loopback by itself).
async fn dev_settings(adjust: impl FnOnce(&mut Settings)) -> (Settings, tempfile::TempDir) {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let mut settings = sandbox
        .state
        .bot_settings(loopback0(), db.path().join("stagegate.db"));
    settings.entra.client_secret = SecretString::from("a-fresh-client-secret-0123456789");
    let teams = settings.teams.as_mut().unwrap();
    teams.app_password = SecretString::from("a-fresh-app-password-0123456789");
    teams.dev_no_auth = true;
    adjust(&mut settings);
    (settings, db)
}

#[tokio::test]
async fn refused_at_start_unless_listening_on_loopback() {
    let (settings, _db) =
        dev_settings(|s| s.server.bind = std::net::SocketAddr::from(([0, 0, 0, 0], 0))).await;
    let error = Application::build(settings)
        .await
        .err()
        .expect("a non-loopback bind is refused");
    assert!(error.to_string().contains("dev_no_auth"), "{error}");
    assert!(error.to_string().contains("server.bind"), "{error}");
}

type Adjust = fn(&mut Settings);

/// The bot's connector token comes from the configured Entra: with a real
/// Entra or Graph (or a real connector to reply to), an unauthenticated
/// body would act in a real tenant.
#[tokio::test]
async fn refused_at_start_unless_entra_graph_and_the_connector_are_on_loopback() {
    let cases: [(&str, Adjust); 3] = [
        ("entra.login_base_url", |s| {
            s.entra.login_base_url = "https://login.microsoftonline.com".into();
        }),
        ("graph.base_url", |s| {
            s.graph.base_url = "https://graph.microsoft.com/v1.0".into();
        }),
        ("teams.service_url", |s| {
            s.teams.as_mut().unwrap().service_url = "https://smba.trafficmanager.net/teams/".into();
        }),
    ];
    for (key, adjust) in cases {
        let (settings, _db) = dev_settings(adjust).await;
        let error = Application::build(settings)
            .await
            .err()
            .unwrap_or_else(|| panic!("dev mode with a real {key} is refused"))
            .to_string();
        assert!(
            error.contains("teams.dev_no_auth") && error.contains(&format!("{key} (https://")),
            "{error}"
        );
        assert!(
            error.contains("turn teams.dev_no_auth off"),
            "says what to do: {error}"
        );
    }
}

/// Alex's activity as the Agents Playground sends it, for `service_url`.
fn playground_activity(app: &TeamsApp, id: &str, service_url: &str) -> Value {
    use stagegate_sandbox::teams::{bot_id, personal_conversation_id, teams_user_id};
    let alex = app.sandbox.persona_id("alex");
    let (app_id, tenant) = {
        let world = app.sandbox.state.world();
        (world.app.client_id.clone(), world.tenant_id.clone())
    };
    json!({
        "type": "message", "id": id, "text": "help", "channelId": "msteams",
        "serviceUrl": service_url,
        "from": { "id": teams_user_id(&app_id, &alex), "name": "Alex Wilber", "aadObjectId": alex },
        "conversation": { "conversationType": "personal", "tenantId": tenant,
                          "id": personal_conversation_id(&app_id, &alex) },
        "recipient": { "id": bot_id(&app_id) },
    })
}

/// Posts `body` (no Authorization header, as the Playground) with `headers`.
async fn post_raw(app: &TeamsApp, body: &Value, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = app
        .sandbox
        .http
        .post(format!("{}/api/teams/messages", app.address))
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

/// "Elsewhere": a loopback listener of the test's own that records every
/// request (with whether it carried a bearer) and answers like a connector.
async fn elsewhere() -> (String, Arc<Mutex<Vec<String>>>, DropSender) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    let router = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
        let record = record.clone();
        async move {
            let bearer = headers.contains_key("authorization");
            record
                .lock()
                .unwrap()
                .push(format!("{uri} bearer={bearer}"));
            (StatusCode::CREATED, axum::Json(json!({ "id": "1" })))
        }
    });
    let (base, shutdown) = crate::teams_support::serve(router).await;
    (format!("{base}/teams/"), seen, DropSender(Some(shutdown)))
}

/// Stops the listener when dropped.
struct DropSender(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropSender {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

async fn dev_app() -> TeamsApp {
    let app = spawn_teams_app_with(|s| s.teams.as_mut().unwrap().dev_no_auth = true).await;
    app.install("alex").await;
    app
}

/// A web page can POST `text/plain` to loopback without a CORS preflight:
/// refused before the body is read, whatever serviceUrl it names.
#[tokio::test]
async fn when_on_a_text_plain_post_is_refused_and_nothing_is_sent() {
    let app = dev_app().await;
    let (foreign, seen, _listener) = elsewhere().await;
    let configured = format!("{}/teams/", app.sandbox.base_url);
    let before = app.cards("alex").await.len();
    for (i, (service_url, content_type)) in [
        (&foreign, "text/plain"),
        (&configured, "text/plain;charset=UTF-8"),
        (&configured, "application/x-www-form-urlencoded"),
    ]
    .into_iter()
    .enumerate()
    {
        let activity = playground_activity(&app, &format!("plain-{i}"), service_url);
        let status = post_raw(&app, &activity, &[("content-type", content_type)]).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
    }
    app.settle().await;
    assert_eq!(
        *seen.lock().unwrap(),
        Vec::<String>::new(),
        "nothing sent elsewhere"
    );
    assert_eq!(app.cards("alex").await.len(), before, "nothing sent at all");
}

/// A JSON activity naming another serviceUrl is refused, and that
/// listener never hears from the bot, not even on Alex's next message
/// (nothing was learned from the refused body).
#[tokio::test]
async fn when_on_a_foreign_service_url_is_refused_and_receives_nothing() {
    let app = dev_app().await;
    let (foreign, seen, _listener) = elsewhere().await;
    let before = app.cards("alex").await.len();
    let activity = playground_activity(&app, "foreign-1", &foreign);
    let status = post_raw(&app, &activity, &[("content-type", "application/json")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.settle().await;
    assert_eq!(
        *seen.lock().unwrap(),
        Vec::<String>::new(),
        "nothing sent elsewhere"
    );
    assert_eq!(app.cards("alex").await.len(), before);

    let configured = format!("{}/teams/", app.sandbox.base_url);
    let activity = playground_activity(&app, "configured-1", &configured);
    let status = post_raw(&app, &activity, &[("content-type", "application/json")]).await;
    assert_eq!(status, StatusCode::OK);
    app.settle().await;
    assert_eq!(
        app.cards("alex").await.len(),
        before + 1,
        "answered in the sandbox"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        Vec::<String>::new(),
        "still nothing elsewhere"
    );
}

/// A page that rebinds its own name to 127.0.0.1 is same-origin and may
/// send JSON without a preflight; its Host gives it away.
#[tokio::test]
async fn when_on_a_request_for_another_host_is_refused() {
    let app = dev_app().await;
    let before = app.cards("alex").await.len();
    let configured = format!("{}/teams/", app.sandbox.base_url);
    let activity = playground_activity(&app, "rebound-1", &configured);
    let headers = [
        ("content-type", "application/json"),
        ("host", "attacker.example:3978"),
    ];
    assert_eq!(
        post_raw(&app, &activity, &headers).await,
        StatusCode::FORBIDDEN
    );
    app.settle().await;
    assert_eq!(app.cards("alex").await.len(), before);
}

#[tokio::test]
async fn when_on_unsigned_activities_are_served() {
    let app = dev_app().await;
    // No Authorization header at all, as the Playground sends it.
    let activity = playground_activity(
        &app,
        "playground-1",
        &format!("{}/teams/", app.sandbox.base_url),
    );
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
    // With a charset, and the configured serviceUrl without its final `/`.
    let activity = playground_activity(
        &app,
        "playground-2",
        &format!("{}/teams", app.sandbox.base_url),
    );
    let json_utf8 = [("content-type", "application/json; charset=utf-8")];
    assert_eq!(post_raw(&app, &activity, &json_utf8).await, StatusCode::OK);
    app.settle().await;
    assert_eq!(app.cards("alex").await.len(), before + 2, "answered again");
}
