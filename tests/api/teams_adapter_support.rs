#![allow(dead_code)] // each Teams adapter test uses a different part
//! The real bot (Teams adapter on) against a fresh sandbox whose emulated
//! Teams delivers signed activities to it: personas install the app, type,
//! click and sign in; tests wait for the bot's background work and outbox
//! to go idle instead of sleeping.

use std::sync::Arc;

use serde_json::{Value, json};
use stagegate::app::{AppOptions, Application};
use stagegate::chat::teams::handlers::TeamsBot;
use stagegate::config::SecurityChannelSettings;
use stagegate::engine::Engine;
use stagegate::engine::time::FnClock;
use stagegate_sandbox::client::SimClient;
use stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID;

use crate::helpers::{TestSandbox, loopback0, spawn_sandbox};
use stagegate_lab::wiring::BotWiring;

pub struct TeamsApp {
    pub address: String,
    pub sandbox: Arc<TestSandbox>,
    pub engine: Arc<Engine>,
    pub bot: Arc<TeamsBot>,
    /// Where the bot serves `/metrics` (its own listener).
    pub metrics: Option<std::net::SocketAddr>,
    _db: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TeamsApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn spawn_teams_app() -> TeamsApp {
    spawn_teams_app_with(|_| {}).await
}

/// [`spawn_teams_app`] with settings adjusted by `adjust`.
pub async fn spawn_teams_app_with(
    adjust: impl FnOnce(&mut stagegate::config::Settings),
) -> TeamsApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("stagegate=debug")
            .with_test_writer()
            .try_init();
    }
    let sandbox = Arc::new(spawn_sandbox().await);
    let db = tempfile::tempdir().unwrap();
    start(sandbox, db, adjust).await
}

/// [`spawn_teams_app`] on a sandbox the test prepared (its tenant changed
/// before the bot's first token, say).
pub async fn spawn_teams_app_in(sandbox: Arc<TestSandbox>) -> TeamsApp {
    spawn_teams_app_on(sandbox, |_| {}).await
}

/// [`spawn_teams_app_with`] on a sandbox of the caller's.
pub async fn spawn_teams_app_on(
    sandbox: Arc<TestSandbox>,
    adjust: impl FnOnce(&mut stagegate::config::Settings),
) -> TeamsApp {
    start(sandbox, tempfile::tempdir().unwrap(), adjust).await
}

async fn start(
    sandbox: Arc<TestSandbox>,
    db: tempfile::TempDir,
    adjust: impl FnOnce(&mut stagegate::config::Settings),
) -> TeamsApp {
    let mut settings = sandbox
        .state
        .bot_settings(loopback0(), db.path().join("stagegate.db"));
    // This harness's one channel only (the sandbox configures both platforms').
    settings.engine.security_channels.clear();
    settings.engine.security_channel = Some(SecurityChannelSettings {
        platform: "teams".into(),
        channel: ALERTS_CHANNEL_ID.into(),
    });
    adjust(&mut settings);
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
    let bot = app.state().teams.clone().expect("the Teams adapter is on");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics = app.metrics_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let out = TeamsApp {
        address,
        sandbox,
        engine,
        bot,
        metrics,
        _db: db,
        shutdown: Some(tx),
    };
    let endpoint = format!("{}/api/teams/messages", out.address);
    let (status, _) = out.drive("/bot", json!({ "endpoint": endpoint })).await;
    assert_eq!(status, 200);
    out
}

impl TeamsApp {
    /// The bot's SQLite file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self._db.path().join("stagegate.db")
    }

    /// Stops this bot and starts another on the same database and sandbox,
    /// with its settings adjusted by `adjust`.
    pub async fn restart_with(
        mut self,
        adjust: impl FnOnce(&mut stagegate::config::Settings),
    ) -> TeamsApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let db = std::mem::replace(&mut self._db, tempfile::TempDir::new().unwrap());
        let sandbox = self.sandbox.clone();
        drop(self);
        start(sandbox, db, adjust).await
    }

    /// Calls the Teams driver (`/sim/teams{path}`).
    pub async fn drive(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .sandbox
            .http
            .post(self.sandbox.url(&format!("/sim/teams{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until clicks, commands and the outbox are all done.
    pub async fn settle(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            for _ in 0..3 {
                self.bot.idle().await;
                self.engine.outbox_idle().await;
            }
        })
        .await
        .expect("the bot went idle");
    }

    pub async fn install(&self, key: &str) {
        let (status, body) = self
            .drive(&format!("/personas/{key}/install"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["bot"]["status"], 200, "{body}");
    }

    pub async fn install_in_team(&self) {
        let (status, body) = self
            .drive(&format!("/channels/{ALERTS_CHANNEL_ID}/install"), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["bot"]["status"], 200, "{body}");
    }

    /// `key` types `text`; returns the driver's answer (with the bot's).
    pub async fn say(&self, key: &str, text: &str) -> Value {
        let (status, body) = self
            .drive(
                &format!("/personas/{key}/messages"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.settle().await;
        body
    }

    /// `key` clicks `verb` on the card of activity `id` with `inputs`.
    pub async fn click(&self, key: &str, id: &str, verb: &str, inputs: Value) -> Value {
        let (status, body) = self
            .drive(
                &format!("/personas/{key}/invoke"),
                json!({ "activityId": id, "verb": verb, "inputs": inputs }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.settle().await;
        body
    }

    /// The cards in `key`'s chat as they see them: (activity id, card).
    pub async fn cards(&self, key: &str) -> Vec<(String, Value)> {
        let view: Value = self
            .sandbox
            .http
            .get(
                self.sandbox
                    .url(&format!("/sim/teams/personas/{key}/conversation")),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        view["activities"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|a| {
                a["from"]["id"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("28:"))
            })
            .filter_map(|a| {
                let card = a["attachments"][0]["content"].clone();
                (!card.is_null()).then(|| (a["id"].as_str().unwrap_or_default().to_owned(), card))
            })
            .collect()
    }

    /// The security channel's root posts (cards).
    pub async fn alerts(&self) -> Vec<Value> {
        let view: Value = self
            .sandbox
            .http
            .get(
                self.sandbox
                    .url(&format!("/sim/teams/channels/{ALERTS_CHANNEL_ID}/messages")),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        view["threads"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|t| t["root"]["attachments"][0]["content"].clone())
            .collect()
    }

    /// Follows a sign-in link as `persona` (with the MFA step when asked).
    pub async fn sign_in(&self, link: &str, persona: &str) {
        SimClient::new(&self.sandbox.base_url)
            .sign_in(link, persona)
            .await
            .unwrap_or_else(|e| panic!("{persona} signs in: {e}"));
        self.settle().await;
    }
}

/// Every string in a card, concatenated (what a person reads).
pub fn card_text(card: &Value) -> String {
    let mut out = String::new();
    walk(card, &mut out);
    out
}

fn walk(node: &Value, out: &mut String) {
    match node {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| *k != "fallback")
            .for_each(|(_, v)| walk(v, out)),
        _ => {}
    }
}

/// The `Action.Execute` verbs a card offers.
pub fn verbs(card: &Value) -> Vec<String> {
    card["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["type"] == "Action.Execute")
                .filter_map(|x| x["verb"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The sign-in link of the last sign-in card in a chat.
pub fn sign_in_link(cards: &[(String, Value)]) -> String {
    cards
        .iter()
        .rev()
        .find_map(|(_, c)| {
            c["actions"]
                .as_array()?
                .iter()
                .find(|a| a["type"] == "Action.OpenUrl")?["url"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("a sign-in card")
}

impl TeamsApp {
    /// Links `key` (installs the app, `link`, signs in).
    pub async fn link(&self, key: &str) {
        self.install(key).await;
        self.say(key, "link").await;
        let link = sign_in_link(&self.cards(key).await);
        self.sign_in(&link, key).await;
    }

    /// The live card (with `verbs`) in `key`'s chat: (activity id, card).
    pub async fn live_card(&self, key: &str, wanted: &[&str]) -> (String, Value) {
        let cards = self.cards(key).await;
        cards
            .iter()
            .find(|(_, c)| verbs(c) == wanted)
            .cloned()
            .unwrap_or_else(|| panic!("no {wanted:?} card for {key}: {cards:?}"))
    }

    /// A signed `invoke` as Teams would send it for `key`, built by hand
    /// (any card data, any conversation); returns (HTTP status, body).
    pub async fn raw_invoke(
        &self,
        key: &str,
        id: &str,
        reply_to: &str,
        value: Value,
    ) -> (u16, Value) {
        self.raw_invoke_in(key, key, id, reply_to, value).await
    }

    /// [`TeamsApp::raw_invoke`] by `key` on a card in `chat_of`'s
    /// personal chat (as in a conversation both see).
    pub async fn raw_invoke_in(
        &self,
        key: &str,
        chat_of: &str,
        id: &str,
        reply_to: &str,
        value: Value,
    ) -> (u16, Value) {
        use stagegate_sandbox::teams::{bot_id, personal_conversation_id, teams_user_id};
        let (app_id, tenant, aad, name, chat_aad) = {
            let world = self.sandbox.state.world();
            let user = world.user_by_key(key).unwrap();
            (
                world.app.client_id.clone(),
                world.tenant_id.clone(),
                user.id.clone(),
                user.display_name.clone(),
                world.user_by_key(chat_of).unwrap().id.clone(),
            )
        };
        let service_url = format!("{}/teams/", self.sandbox.base_url);
        let activity = json!({
            "type": "invoke", "name": value["name"].as_str().unwrap_or("adaptiveCard/action"),
            "id": id, "serviceUrl": service_url, "channelId": "msteams",
            "from": { "id": teams_user_id(&app_id, &aad), "name": name, "aadObjectId": aad },
            "conversation": { "conversationType": "personal", "tenantId": tenant,
                              "id": personal_conversation_id(&app_id, &chat_aad) },
            "recipient": { "id": bot_id(&app_id) },
            "channelData": { "tenant": { "id": tenant } },
            "replyToId": reply_to,
            "value": value["value"],
        });
        let response = self.post_signed(&activity).await;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }
}

impl TeamsApp {
    /// Posts `activity` to the bot as the Bot Connector does, signed for
    /// the activity's own `serviceUrl`.
    pub async fn post_signed(&self, activity: &Value) -> reqwest::Response {
        let app_id = self.sandbox.state.world().app.client_id.clone();
        let service_url = activity["serviceUrl"].as_str().unwrap_or_default();
        let token = self.sandbox.state.teams.channel_token(&app_id, service_url);
        self.sandbox
            .http
            .post(format!("{}/api/teams/messages", self.address))
            .bearer_auth(token)
            .json(activity)
            .send()
            .await
            .unwrap()
    }
}

/// An `adaptiveCard/action` invoke value.
pub fn execute(verb: &str, data: Value) -> Value {
    json!({ "name": "adaptiveCard/action",
            "value": { "action": { "type": "Action.Execute", "id": verb, "verb": verb, "data": data },
                       "trigger": "manual" } })
}

/// Alex (linked) asked for global-admin; Miriam (linked) has the stage-1
/// card. Returns the request id and Miriam's card id and card.
pub async fn stage_one() -> (TeamsApp, String, String, Value) {
    let app = spawn_teams_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    app.say("alex", "request global-admin TICKET-7 patch the DCs")
        .await;
    let request = {
        let alex = app.sandbox.persona_id("alex");
        let world = app.sandbox.state.world();
        let r = world.requests.values().find(|r| r.target_id == alex);
        r.expect("request submitted").id.clone()
    };
    let (id, card) = app.live_card("miriam", &["approve", "deny"]).await;
    (app, request, id, card)
}
