#![allow(dead_code)] // each engine test uses a different part of the harness
//! The bot with the in-memory chat adapter against a fresh sandbox: people
//! type and click as personas, sign in through the emulated Entra pages,
//! and the test waits for the outbox to go idle instead of sleeping.

use std::path::PathBuf;
use std::sync::Arc;

use stagegate::app::{AppOptions, Application};
use stagegate::chat::identity::ChatIdentity;
use stagegate::chat::port::{CardAction, Message, Recipient};
use stagegate::config::SecurityChannelSettings;
use stagegate::engine::Engine;
use stagegate::engine::memory::MemoryChat;
use stagegate_domain::chat_ids::Platform;

use crate::helpers::{TestSandbox, loopback0, spawn_sandbox};
use stagegate_lab::wiring::BotWiring;
use stagegate_sandbox::client::{SignInBrowser, SimClient};

pub const PERSONAS: [&str; 10] = [
    "alex", "miriam", "megan", "bianca", "adele", "diego", "lee", "isaiah", "patti", "johanna",
];

pub struct EngineApp {
    pub address: String,
    pub sandbox: Arc<TestSandbox>,
    pub engine: Arc<Engine>,
    pub chat: Arc<MemoryChat>,
    pub db: Arc<tempfile::TempDir>,
    adjust: Adjust,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    stopped: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for EngineApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn spawn_engine_app() -> EngineApp {
    spawn_engine_app_with(|_| {}).await
}

/// [`spawn_engine_app`] with the bot's settings adjusted by `adjust`.
pub async fn spawn_engine_app_with(
    adjust: impl Fn(&mut stagegate::config::Settings) + Send + Sync + 'static,
) -> EngineApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("stagegate=debug")
            .with_test_writer()
            .try_init();
    }
    let sandbox = spawn_sandbox().await;
    let db = Arc::new(tempfile::tempdir().unwrap());
    start(Arc::new(sandbox), db, None, Arc::new(adjust)).await
}

type Adjust = Arc<dyn Fn(&mut stagegate::config::Settings) + Send + Sync>;

async fn start(
    sandbox: Arc<TestSandbox>,
    db: Arc<tempfile::TempDir>,
    chat: Option<Arc<MemoryChat>>,
    adjust: Adjust,
) -> EngineApp {
    let register = chat.is_none();
    let path: PathBuf = db.path().join("stagegate.db");
    let mut settings = sandbox.state.bot_settings(loopback0(), path);
    // This harness's one channel only (the sandbox configures both platforms').
    settings.engine.security_channels.clear();
    settings.engine.security_channel = Some(SecurityChannelSettings {
        platform: "teams".into(),
        channel: "security".into(),
    });
    adjust(&mut settings);
    let chat = chat.unwrap_or_else(|| MemoryChat::new(Platform::Teams));
    let app = Application::build_with(
        settings,
        AppOptions {
            ports: vec![chat.clone()],
            clock: Arc::new(sandbox.state.bot_clock()),
        },
    )
    .await
    .expect("app builds");
    let engine = app.state().engine.clone();
    chat.attach(&engine);
    let address = format!("http://127.0.0.1:{}", app.port());
    sandbox.state.relay_callouts_to(&address);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let out = EngineApp {
        adjust,
        address,
        sandbox,
        engine,
        chat,
        db,
        shutdown: Some(tx),
        stopped: Some(stopped),
    };
    if register {
        for key in PERSONAS {
            let who = out.persona(key);
            let id = out.sandbox.persona_id(key).parse().unwrap();
            out.engine.register_person(&who, &id, key).await.unwrap();
        }
    }
    out
}

impl EngineApp {
    /// The Teams identity of a persona (Teams: the user is the aadObjectId).
    pub fn persona(&self, key: &str) -> ChatIdentity {
        ChatIdentity {
            platform: "teams".into(),
            workspace: self.sandbox.state.tenant_id(),
            user: self.sandbox.persona_id(key),
        }
    }

    pub fn dm(&self, key: &str) -> Recipient {
        Recipient::Person {
            identity: self.persona(key),
        }
    }

    /// Latest versions of everything `key` received.
    pub fn inbox(&self, key: &str) -> Vec<Message> {
        self.chat.messages_to(&self.dm(key))
    }

    pub fn security(&self) -> Vec<Message> {
        self.chat.messages_to(&Recipient::SecurityChannel {
            channel: "security".into(),
        })
    }

    pub async fn say(&self, key: &str, text: &str) -> Message {
        let reply = self.chat.type_text(&self.persona(key), text).await;
        self.settle().await;
        reply
    }

    pub async fn click(
        &self,
        key: &str,
        action: &CardAction,
        justification: Option<&str>,
    ) -> Message {
        let reply = self
            .chat
            .click(&self.persona(key), action, justification)
            .await;
        self.settle().await;
        reply
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

    /// Follows a sign-in link as `persona` through the confirmation page
    /// and the emulated Entra pages (with the MFA step when Entra asks for
    /// one) back to the bot. Returns the Entra authorize URL the bot
    /// redirected to.
    pub async fn sign_in(&self, link: &str, persona: &str) -> String {
        let client = SimClient::new(&self.sandbox.base_url);
        let mut browser = SignInBrowser::new(&client);
        let (_, authorize) = browser.open_link(link).await.expect("the link opens");
        let (callback, _) = browser
            .sign_in_at_entra(&authorize, persona)
            .await
            .expect("Entra signs the persona in");
        assert!(callback.starts_with(&self.address), "{callback}");
        let (status, body) = browser
            .finish(&callback)
            .await
            .expect("the callback answers");
        assert_eq!(status, 200, "{body}");
        self.settle().await;
        authorize
    }

    /// Stops the bot and starts a new one on the same database and the
    /// same chat platform (messages posted before stay where they are).
    pub async fn restart(mut self) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
        let (sandbox, db, chat, adjust) = (
            self.sandbox.clone(),
            self.db.clone(),
            self.chat.clone(),
            self.adjust.clone(),
        );
        drop(self);
        start(sandbox, db, Some(chat), adjust).await
    }
}

/// The sign-in link of a prompt.
pub fn sign_in_url(message: &Message) -> String {
    match message {
        Message::SignInPrompt { url, .. } => url.clone(),
        other => panic!("expected a sign-in prompt, got {other:?}"),
    }
}

/// The live approval cards in an inbox.
pub fn live_cards(inbox: &[Message]) -> Vec<stagegate::chat::port::ApprovalCard> {
    inbox
        .iter()
        .filter_map(|m| match m {
            Message::ApprovalRequest { card } => Some(card.clone()),
            _ => None,
        })
        .collect()
}

/// The decided approval cards in an inbox, with their outcome.
pub fn decided_cards(inbox: &[Message]) -> Vec<(stagegate::chat::port::ApprovalCard, String)> {
    inbox
        .iter()
        .filter_map(|m| match m {
            Message::ApprovalDecided { card, outcome } => Some((card.clone(), outcome.clone())),
            _ => None,
        })
        .collect()
}

pub fn texts(inbox: &[Message]) -> Vec<String> {
    inbox.iter().map(Message::text).collect()
}

impl EngineApp {
    /// Links `key` through `link` and the sign-in pages.
    pub async fn link(&self, key: &str) {
        let reply = self.say(key, "link").await;
        self.sign_in(&sign_in_url(&reply), key).await;
    }

    /// `key` (linked) types a request; returns the new request's id.
    pub async fn request(&self, key: &str, text: &str) -> stagegate_domain::ids::RequestId {
        let reply = self.say(key, text).await;
        let words = reply.text();
        words
            .split_whitespace()
            .find_map(|w| w.trim_end_matches([',', '.']).parse().ok())
            .unwrap_or_else(|| panic!("no request id in {words}"))
    }

    /// What the poller does for one request.
    pub async fn reconcile(&self, id: &stagegate_domain::ids::RequestId) {
        self.engine.reconcile(id).await.expect("reconcile");
        self.settle().await;
    }

    /// The live card of `key` for a request's stage `k`.
    pub fn card(
        &self,
        key: &str,
        id: &stagegate_domain::ids::RequestId,
        k: u8,
    ) -> Option<stagegate::chat::port::ApprovalCard> {
        live_cards(&self.inbox(key))
            .into_iter()
            .find(|c| c.request == *id && c.stage == k)
    }

    pub fn approve(card: &stagegate::chat::port::ApprovalCard) -> CardAction {
        CardAction::Approve {
            request: card.request,
            stage: card.stage_id,
        }
    }

    pub fn deny(card: &stagegate::chat::port::ApprovalCard) -> CardAction {
        CardAction::Deny {
            request: card.request,
            stage: card.stage_id,
        }
    }

    /// Keys of personas holding a live card for stage `k` of `id`.
    pub fn card_holders(&self, id: &stagegate_domain::ids::RequestId, k: u8) -> Vec<&'static str> {
        PERSONAS
            .into_iter()
            .filter(|p| self.card(p, id, k).is_some())
            .collect()
    }
}
