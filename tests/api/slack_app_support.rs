#![allow(dead_code)] // each Slack adapter test uses a different part of the harness
//! The bot with its real Slack adapter against a fresh sandbox: every
//! command, click and modal submission goes through the emulated Slack's
//! driver API, so the bot sees exactly the signed traffic Slack would send,
//! and everything it says is read back from the emulated conversations.

use std::sync::Arc;

use serde_json::{Value, json};
use stagegate::app::{AppOptions, Application};
use stagegate::config::SecurityChannelSettings;
use stagegate::engine::Engine;
use stagegate::engine::time::FnClock;
use stagegate_sandbox::client::SimClient;

use crate::helpers::{TestSandbox, eventually, loopback0, spawn_sandbox};
use crate::slack_support::{connect_bot, driver, driver_get, slack_of};
use stagegate_lab::wiring::BotWiring;

pub struct SlackApp {
    pub address: String,
    pub sandbox: Arc<TestSandbox>,
    pub engine: Arc<Engine>,
    pub slack: Value,
    pub security_channel: String,
    /// Sign-in links already followed (each link is good once).
    used_links: std::sync::Mutex<Vec<String>>,
    _db: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for SlackApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn spawn_slack_app() -> SlackApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("TEST_LOG").unwrap_or_default())
            .with_test_writer()
            .try_init();
    }
    let sandbox = Arc::new(spawn_sandbox().await);
    start(sandbox, tempfile::tempdir().unwrap()).await
}

/// The bot on `db` against `sandbox`, connected to its emulated Slack.
async fn start(sandbox: Arc<TestSandbox>, db: tempfile::TempDir) -> SlackApp {
    let slack = slack_of(&sandbox).await;
    let security_channel = slack["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "stagegate-security")
        .expect("the sandbox has a security channel")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut settings = sandbox
        .state
        .bot_settings(loopback0(), db.path().join("stagegate.db"));
    assert!(settings.slack.is_some(), "the sandbox configures Slack");
    // This harness's one channel only (the sandbox configures both platforms').
    settings.engine.security_channels.clear();
    settings.engine.security_channel = Some(SecurityChannelSettings {
        platform: "slack".into(),
        channel: security_channel.clone(),
    });
    let sim = sandbox.state.clone();
    let app = Application::build_with(
        settings,
        AppOptions {
            ports: Vec::new(),
            clock: Arc::new(FnClock::new(move || sim.clock.now())),
        },
    )
    .await
    .expect("app builds");
    let engine = app.state().engine.clone();
    let address = format!("http://127.0.0.1:{}", app.port());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    connect_bot(&sandbox, &format!("{address}/api")).await;
    SlackApp {
        address,
        sandbox,
        engine,
        slack,
        security_channel,
        used_links: std::sync::Mutex::new(Vec::new()),
        _db: db,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// Every button of a message: `(action_id, value or url)`.
pub fn buttons(message: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in message["blocks"].as_array().into_iter().flatten() {
        for e in block["elements"].as_array().into_iter().flatten() {
            if e["type"] == "button" {
                let v = e["value"].as_str().or(e["url"].as_str()).unwrap_or("");
                out.push((
                    e["action_id"].as_str().unwrap_or("").to_owned(),
                    v.to_owned(),
                ));
            }
        }
    }
    out
}

/// All the text a message shows (fallback and every text object).
pub fn shown(message: &Value) -> String {
    stagegate_sandbox::client::slack_text(message)
}

impl SlackApp {
    /// The bot's SQLite file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self._db.path().join("stagegate.db")
    }

    pub fn user_id(&self, key: &str) -> String {
        self.slack["users"][key]["userId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the outbox has delivered everything owed.
    pub async fn settle(&self) {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            self.engine.outbox_idle(),
        )
        .await
        .expect("outbox went idle");
    }

    /// `key` types `/command text` in their DM with the bot; the driver's
    /// answer (`ack`, `triggerId`, `responseUrl`).
    pub async fn command(&self, key: &str, command: &str, text: &str) -> Value {
        let r = driver(
            &self.sandbox,
            &format!("/personas/{key}/command"),
            json!({ "command": command, "text": text, "channel": "dm" }),
        )
        .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// `key`'s DM with the bot, as they see it.
    pub async fn dm(&self, key: &str) -> Vec<Value> {
        self.conversation(key, "dm").await
    }

    pub async fn conversation(&self, key: &str, channel: &str) -> Vec<Value> {
        let c = driver_get(
            &self.sandbox,
            &format!("/personas/{key}/conversations/{channel}"),
        )
        .await;
        c["messages"].as_array().cloned().unwrap_or_default()
    }

    pub async fn security(&self) -> Vec<Value> {
        self.conversation("alex", &self.security_channel.clone())
            .await
    }

    /// Waits for a message in `key`'s DM matching `check`.
    pub async fn wait_dm(&self, key: &str, check: impl Fn(&Value) -> bool) -> Value {
        eventually(|| async {
            self.settle().await;
            self.dm(key).await.into_iter().rev().find(|m| check(m))
        })
        .await
    }

    /// The newest sign-in link `key` was shown and that was not used yet.
    pub async fn sign_in_link(&self, key: &str) -> String {
        let fresh = |m: &Value| {
            let used = self.used_links.lock().unwrap();
            buttons(m)
                .into_iter()
                .find(|(a, url)| a == "sign_in" && !used.contains(url))
                .map(|(_, url)| url)
        };
        let m = self.wait_dm(key, |m| fresh(m).is_some()).await;
        let link = fresh(&m).unwrap();
        self.used_links.lock().unwrap().push(link.clone());
        link
    }

    /// Clicks `action_id` on message `ts` of `key`'s DM.
    pub async fn click(&self, key: &str, ts: &str, action_id: &str) -> reqwest::Response {
        let channel = self.slack["users"][key]["dmChannelId"]
            .as_str()
            .unwrap()
            .to_owned();
        driver(
            &self.sandbox,
            &format!("/personas/{key}/click"),
            json!({ "channel": channel, "ts": ts, "actionId": action_id }),
        )
        .await
    }

    /// Submits `key`'s top modal with a justification.
    pub async fn submit(&self, key: &str, justification: &str, force: bool) -> Value {
        let r = driver(
            &self.sandbox,
            &format!("/personas/{key}/submit"),
            json!({ "values": { "justification": { "text": justification } }, "force": force }),
        )
        .await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn views(&self, key: &str) -> Vec<Value> {
        driver_get(&self.sandbox, &format!("/personas/{key}/views")).await["views"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Follows a sign-in link as `persona` through the emulated pages (with
    /// the MFA step when Entra asks for one) back to the bot.
    pub async fn sign_in(&self, link: &str, persona: &str) {
        SimClient::new(&self.sandbox.base_url)
            .sign_in(link, persona)
            .await
            .unwrap_or_else(|e| panic!("{persona} signs in: {e}"));
        self.settle().await;
    }

    /// `key` links their Microsoft account through `/stagegate link`.
    pub async fn link(&self, key: &str) {
        self.command(key, "/stagegate", "link").await;
        let link = self.sign_in_link(key).await;
        self.sign_in(&link, key).await;
    }

    /// The live approval card in `key`'s DM (one with an Approve button).
    pub async fn live_card(&self, key: &str) -> Value {
        self.wait_dm(key, |m| buttons(m).iter().any(|(a, _)| a == "approve"))
            .await
    }

    /// The metadata of the Approve button on `key`'s live approval card.
    pub async fn approve_metadata(&self, key: &str) -> String {
        let card = self.live_card(key).await;
        buttons(&card)
            .into_iter()
            .find(|(a, _)| a == "approve")
            .map(|(_, metadata)| metadata)
            .expect("an Approve button")
    }
}

impl SlackApp {
    /// Stops the bot, waits until it is down, and starts a new one on the
    /// same database file against the same sandbox.
    pub async fn restart(mut self) -> SlackApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let db = std::mem::replace(&mut self._db, tempfile::TempDir::new().unwrap());
        let sandbox = self.sandbox.clone();
        drop(self);
        start(sandbox, db).await
    }

    /// `(timestamp, signature)` headers for `body`, signed as Slack signs.
    pub fn sign(&self, body: &str) -> (String, String) {
        use hmac::{Hmac, Mac};
        let secret = self.slack["signingSecret"].as_str().unwrap();
        let ts = chrono::Utc::now().timestamp().to_string();
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("v0:{ts}:{body}").as_bytes());
        (
            ts,
            format!("v0={}", hex::encode(mac.finalize().into_bytes())),
        )
    }

    /// Sends the bot a request signed exactly as Slack signs (used to replay
    /// a payload or to craft one a person's client would never send).
    pub async fn signed_post(&self, path: &str, body: &str) -> reqwest::Response {
        let (ts, signature) = self.sign(body);
        self.post_with_signature(path, body, &ts, &signature).await
    }

    /// Sends `body` with the given Slack headers (a captured request, again).
    pub async fn post_with_signature(
        &self,
        path: &str,
        body: &str,
        ts: &str,
        signature: &str,
    ) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}{path}", self.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// A `view_submission` of the decision modal as `key`, with `metadata`.
    pub fn submission_body(&self, key: &str, metadata: &str, justification: &str) -> String {
        let payload = json!({
            "type": "view_submission",
            "team": { "id": self.slack["teamId"], "domain": self.slack["teamDomain"] },
            "user": { "id": self.user_id(key), "team_id": self.slack["teamId"] },
            "api_app_id": self.slack["appId"],
            "view": {
                "id": "V0CRAFTED01", "type": "modal", "callback_id": "stagegate_decision",
                "private_metadata": metadata,
                "state": { "values": { "justification": { "text": {
                    "type": "plain_text_input", "value": justification } } } },
            },
        });
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish()
    }

    /// Links alex and the `approvers`, then alex runs `/request {text}`;
    /// returns the new request's id once its cards are out.
    pub async fn requested(&self, approvers: &[&str], text: &str) -> String {
        self.link("alex").await;
        for key in approvers {
            self.link(key).await;
        }
        self.command("alex", "/request", text).await;
        let alex = self.sandbox.persona_id("alex");
        eventually(|| async {
            self.settle().await;
            let world = self.sandbox.state.world();
            world
                .requests
                .values()
                .find(|r| r.target_id == alex)
                .map(|r| r.id.clone())
        })
        .await
    }
}
