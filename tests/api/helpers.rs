#![allow(dead_code)] // each test uses a different part of the harness
//! `spawn_sandbox()` / `spawn_app()`: fresh emulators (and bot) on random
//! loopback ports for every test.

use std::net::SocketAddr;

use serde_json::{Value, json};
use stagegate::app::Application;
use stagegate::sandbox::{Sandbox, SandboxOptions, SimState};

pub struct TestSandbox {
    pub base_url: String,
    pub state: SimState,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn loopback0() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub async fn spawn_sandbox() -> TestSandbox {
    spawn_sandbox_with_tenant(None).await
}

pub async fn spawn_sandbox_with_tenant(tenant: Option<String>) -> TestSandbox {
    let sandbox = Sandbox::build(SandboxOptions {
        bind: loopback0(),
        tenant,
        callout_url: None,
        callout_secret: None,
    })
    .await
    .expect("sandbox builds");
    let base_url = sandbox.base_url().to_owned();
    let state = sandbox.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sandbox.run_until(async {
        let _ = rx.await;
    }));
    TestSandbox {
        base_url,
        state,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
    }
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn graph(&self, path: &str) -> String {
        format!("{}/graph/v1.0{path}", self.base_url)
    }

    pub async fn tenant(&self) -> Value {
        self.http
            .get(self.url("/sim/tenant"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The id of persona `key` (`alex`).
    pub fn persona_id(&self, key: &str) -> String {
        self.state
            .world()
            .user_by_key(key)
            .unwrap_or_else(|| panic!("no persona {key}"))
            .id
            .clone()
    }

    /// A delegated Graph token for persona `key`, every consented scope.
    pub async fn user_token(&self, key: &str, mfa: bool) -> String {
        self.mint(json!({ "persona": key, "mfa": mfa })).await
    }

    /// A delegated Graph token with exactly `scopes`.
    pub async fn user_token_with(&self, key: &str, scopes: &[&str]) -> String {
        self.mint(json!({ "persona": key, "scopes": scopes })).await
    }

    /// The bot's app-only Graph token.
    pub async fn app_token(&self) -> String {
        self.mint(json!({})).await
    }

    async fn mint(&self, body: Value) -> String {
        let response = self
            .http
            .post(self.url("/sim/tokens"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "mint failed: {}",
            response.text().await.unwrap()
        );
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn advance_clock(&self, duration: &str) {
        let response = self
            .http
            .post(self.url("/sim/clock/advance"))
            .json(&json!({ "duration": duration }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

pub struct TestApp {
    pub address: String,
    pub sandbox: TestSandbox,
    pub http: reqwest::Client,
    _db: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A bot on a random port, pointed at its own fresh sandbox and database.
pub async fn spawn_app() -> TestApp {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let settings = sandbox
        .state
        .bot_settings(loopback0(), db.path().join("stagegate.db"));
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address,
        sandbox,
        http: reqwest::Client::new(),
        _db: db,
        shutdown: Some(tx),
    }
}
