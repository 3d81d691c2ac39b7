//! Teams test harness: a tiny bot that mounts the real inbound validator and
//! counts handler runs, a counting client-credentials token endpoint, and
//! connector clients pointed at the sandbox.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde_json::{Value, json};
use stagegate::chat::teams::activity::{ADAPTIVE_CARD, Activity};
use stagegate::chat::teams::auth::KeyRefresher;
use stagegate::chat::teams::{
    AuthSettings, ConnectorClient, ServiceUrl, ServiceUrlAllowlist, TeamsActivity,
    TeamsAuthenticator,
};
use stagegate::retry::RetryPolicy;
use stagegate_sandbox::teams::connector::mint_connector_token;
use stagegate_sandbox::teams::metadata::openid_metadata_url;

use crate::helpers::TestSandbox;

/// Serves `router` on a random loopback port until the returned sender drops.
pub async fn serve(router: Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    (base, tx)
}

#[derive(Clone)]
struct BotState {
    auth: Arc<TeamsAuthenticator>,
    calls: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Activity>>>,
}

impl FromRef<BotState> for Arc<TeamsAuthenticator> {
    fn from_ref(state: &BotState) -> Self {
        Arc::clone(&state.auth)
    }
}

/// A bot whose only handler counts the activities it was allowed to see.
pub struct TestBot {
    pub endpoint: String,
    pub calls: Arc<AtomicUsize>,
    pub received: Arc<Mutex<Vec<Activity>>>,
    /// Fetches the signing keys until the bot is dropped.
    _keys: KeyRefresher,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestBot {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn last(&self) -> Activity {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("an activity")
    }
}

/// The validator's settings for this sandbox's bot.
pub fn auth_settings(sandbox: &TestSandbox) -> AuthSettings {
    let (app_id, tenant) = {
        let world = sandbox.state.world();
        (world.app.client_id.clone(), world.tenant_id.clone())
    };
    AuthSettings::new(&app_id, &tenant, &openid_metadata_url(&sandbox.state))
}

pub async fn spawn_bot(sandbox: &TestSandbox) -> TestBot {
    spawn_bot_with(auth_settings(sandbox)).await
}

pub async fn spawn_bot_with(settings: AuthSettings) -> TestBot {
    let allowlist = Arc::new(ServiceUrlAllowlist::new(Vec::<String>::new()).unwrap());
    let auth = TeamsAuthenticator::new(reqwest::Client::new(), settings, allowlist);
    let keys = auth.start_key_refresh();
    let state = BotState {
        auth: Arc::new(auth),
        calls: Arc::new(AtomicUsize::new(0)),
        received: Arc::new(Mutex::new(Vec::new())),
    };
    let router = Router::new()
        .route("/api/teams/messages", post(handle))
        .with_state(state.clone());
    let (base, shutdown) = serve(router).await;
    TestBot {
        endpoint: format!("{base}/api/teams/messages"),
        calls: state.calls,
        received: state.received,
        _keys: keys,
        _shutdown: shutdown,
    }
}

/// Counts, records, and answers an `adaptiveCard/action` with a card that
/// echoes the justification it was given.
async fn handle(State(state): State<BotState>, TeamsActivity(activity): TeamsActivity) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    let activity = activity.activity;
    state.received.lock().unwrap().push(activity.clone());
    let Some(click) = activity.adaptive_card_action() else {
        return StatusCode::OK.into_response();
    };
    let justification = click.action.data["justification"].as_str().unwrap_or("");
    let card = json!({
        "type": "AdaptiveCard", "version": "1.5",
        "body": [{ "type": "TextBlock", "text": format!("Recorded: {justification}") }],
    });
    Json(json!({ "statusCode": 200, "type": ADAPTIVE_CARD, "value": card })).into_response()
}

/// A client-credentials token endpoint like Entra's, counting requests and
/// checking the form exactly as docs/architecture.md, "Teams
/// authentication", gives it.
pub struct TokenStub {
    pub login_base: String,
    pub requests: Arc<AtomicUsize>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn spawn_token_stub(sandbox: &TestSandbox) -> TokenStub {
    let requests = Arc::new(AtomicUsize::new(0));
    let (tenant, client_id, secret) = {
        let world = sandbox.state.world();
        (
            world.tenant_id.clone(),
            world.app.client_id.clone(),
            world.app.client_secret.clone(),
        )
    };
    let state = sandbox.state.clone();
    let counter = Arc::clone(&requests);
    let path = format!("/{tenant}/oauth2/v2.0/token");
    let router = Router::new().route(
        &path,
        post(
            move |Form(form): Form<std::collections::HashMap<String, String>>| {
                let state = state.clone();
                let counter = Arc::clone(&counter);
                let (client_id, secret) = (client_id.clone(), secret.clone());
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let ok = form.get("grant_type").map(String::as_str)
                        == Some("client_credentials")
                        && form.get("client_id") == Some(&client_id)
                        && form.get("client_secret") == Some(&secret)
                        && form.get("scope").map(String::as_str)
                            == Some("https://api.botframework.com/.default");
                    if !ok {
                        return (
                            StatusCode::BAD_REQUEST,
                            Json(json!({ "error": "invalid_request" })),
                        )
                            .into_response();
                    }
                    Json(json!({
                        "token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                        "access_token": mint_connector_token(&state, 3600),
                    }))
                    .into_response()
                }
            },
        ),
    );
    let (base, shutdown) = serve(router).await;
    TokenStub {
        login_base: base,
        requests,
        _shutdown: shutdown,
    }
}

impl TokenStub {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// A connector client for the sandbox's bot, with short retry delays.
pub fn connector(sandbox: &TestSandbox, stub: &TokenStub) -> (Arc<ConnectorClient>, ServiceUrl) {
    let (tenant, client_id, secret) = {
        let world = sandbox.state.world();
        (
            world.tenant_id.clone(),
            world.app.client_id.clone(),
            world.app.client_secret.clone(),
        )
    };
    let http = reqwest::Client::new();
    let tokens = ConnectorClient::token_source(
        http.clone(),
        &stub.login_base,
        &tenant,
        &client_id,
        secret.into(),
    );
    let retry = RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        max_inline_wait: Duration::from_secs(5),
    };
    let client = ConnectorClient::new(http, Arc::new(tokens), retry);
    let service_url = sandbox.url("/teams/");
    let allowlist = ServiceUrlAllowlist::new([service_url.as_str()]).unwrap();
    (Arc::new(client), allowlist.admit(&service_url).unwrap())
}

/// POSTs JSON to a driver route and returns (status, body).
pub async fn drive(sandbox: &TestSandbox, path: &str, body: Value) -> (u16, Value) {
    let response = sandbox
        .http
        .post(sandbox.url(&format!("/sim/teams{path}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn teams_info(sandbox: &TestSandbox) -> Value {
    sandbox
        .http
        .get(sandbox.url("/sim/teams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The Teams id, conversation id and Entra id of persona `key`.
pub async fn persona(sandbox: &TestSandbox, key: &str) -> Value {
    let info = teams_info(sandbox).await;
    info["personas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no persona {key}"))
}

pub fn connector_token(sandbox: &TestSandbox) -> String {
    mint_connector_token(&sandbox.state, 3600)
}

pub async fn connector_post(sandbox: &TestSandbox, path: &str, body: &str) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.url(&format!("/teams/v3{path}")))
        .bearer_auth(connector_token(sandbox))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// Installs `key` (no bot configured) and returns their conversation id.
pub async fn installed(sandbox: &TestSandbox, key: &str) -> String {
    let (status, body) = drive(sandbox, &format!("/personas/{key}/install"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    body["conversationId"].as_str().unwrap().to_owned()
}
