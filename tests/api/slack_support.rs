//! Shared pieces of the Slack tests: the sandbox's Slack identity, a client
//! pointed at the emulator, and a tiny bot that verifies what it receives
//! with our verifier and hands the parsed payloads to the test.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::SecretString;
use serde_json::{Value, json};
use stagegate::chat::slack::client::{ClientOptions, SlackClient};
use stagegate::chat::slack::limits::ClientLimits;
use stagegate::chat::slack::payload::Inbound;
use stagegate::chat::slack::{SlackRequest, SlackVerifier};
use tokio::sync::mpsc;

use crate::helpers::TestSandbox;

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/slack/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub async fn slack_of(sandbox: &TestSandbox) -> Value {
    sandbox.tenant().await["slack"].clone()
}

pub fn client_with(sandbox: &TestSandbox, token: &str, limits: ClientLimits) -> SlackClient {
    SlackClient::new(
        reqwest::Client::new(),
        &sandbox.url("/slack/api"),
        SecretString::from(token.to_owned()),
        ClientOptions {
            limits,
            ..ClientOptions::default()
        },
    )
}

pub async fn bot_client(sandbox: &TestSandbox) -> SlackClient {
    let slack = slack_of(sandbox).await;
    client_with(
        sandbox,
        slack["botToken"].as_str().unwrap(),
        ClientLimits::default(),
    )
}

/// Calls the emulated Web API directly (no client, no rate limiting).
pub async fn raw_call(sandbox: &TestSandbox, token: &str, method: &str, body: Value) -> Value {
    sandbox
        .http
        .post(sandbox.url(&format!("/slack/api/{method}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn driver(sandbox: &TestSandbox, path: &str, body: Value) -> reqwest::Response {
    sandbox
        .http
        .post(sandbox.url(&format!("/sim/slack{path}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn driver_get(sandbox: &TestSandbox, path: &str) -> Value {
    sandbox
        .http
        .get(sandbox.url(&format!("/sim/slack{path}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

type Answer = Arc<dyn Fn(&Inbound) -> Response + Send + Sync>;

#[derive(Clone)]
struct BotState {
    verifier: Arc<SlackVerifier>,
    seen: mpsc::UnboundedSender<Inbound>,
    answer: Answer,
}

impl axum::extract::FromRef<BotState> for Arc<SlackVerifier> {
    fn from_ref(state: &BotState) -> Self {
        state.verifier.clone()
    }
}

async fn receive(State(state): State<BotState>, SlackRequest(request): SlackRequest) -> Response {
    let inbound = match Inbound::parse(&request) {
        Ok(i) => i,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let answer = (state.answer)(&inbound);
    let _ = state.seen.send(inbound);
    answer
}

/// A bot on a random port verifying with `secret`; every verified, parsed
/// request is sent to the returned receiver, and answered by `answer`.
pub async fn spawn_bot(
    secret: &str,
    answer: impl Fn(&Inbound) -> Response + Send + Sync + 'static,
) -> (String, mpsc::UnboundedReceiver<Inbound>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = BotState {
        verifier: Arc::new(SlackVerifier::new(SecretString::from(secret.to_owned()))),
        seen: tx,
        answer: Arc::new(answer),
    };
    let app = Router::new()
        .route("/slack/commands", post(receive))
        .route("/slack/interactions", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx)
}

/// Points the sandbox at a bot spawned with [`spawn_bot`].
pub async fn connect_bot(sandbox: &TestSandbox, bot_url: &str) {
    let response = driver(
        sandbox,
        "/bot",
        json!({ "commands": format!("{bot_url}/slack/commands"),
                "interactions": format!("{bot_url}/slack/interactions") }),
    )
    .await;
    assert_eq!(response.status(), 200);
}

/// The empty 200 that acknowledges a command or click.
pub fn ack(_: &Inbound) -> Response {
    axum::http::StatusCode::OK.into_response()
}
