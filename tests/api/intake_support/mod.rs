//! Harness for the intake tests: the bot's intake (endpoints and background
//! tasks) on a random loopback port, wired to a fresh sandbox, a fresh
//! database, the sandbox's emulated clock and a recording fake engine.

mod sink;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use stagegate::config::IntakeSettings;
use stagegate::graph::GraphClient;
use stagegate::intake::clock::Clock;
use stagegate::intake::config::IntakeConfig;
use stagegate::intake::{Intake, IntakeDeps, IntakeWorkers};
use stagegate::retry::RetryPolicy;
use stagegate::store::{SqliteStore, Store};
use stagegate::token::AppTokenSource;
use stagegate_domain::ids::ObjectId;
use stagegate_sandbox::SimState;
use tokio::sync::watch;

pub use sink::{Call, RecordingSink};

use crate::helpers::{TestSandbox, loopback0, spawn_sandbox};

/// The sandbox's emulated clock as the intake's clock.
pub struct SandboxClock {
    state: SimState,
    rx: tokio::sync::Mutex<watch::Receiver<DateTime<Utc>>>,
}

#[async_trait]
impl Clock for SandboxClock {
    fn now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    async fn jumped(&self) {
        let mut rx = self.rx.lock().await;
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

pub struct Options {
    /// Tenant-file keys of the watched groups.
    pub groups: Vec<&'static str>,
    pub poll_interval_seconds: u64,
    pub body_limit_bytes: usize,
    pub lifetime_minutes: i64,
    pub margin_minutes: i64,
    /// Start the background tasks (worker, subscription manager, poller).
    pub start: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            groups: Vec::new(),
            poll_interval_seconds: 3600,
            body_limit_bytes: 16 * 1024,
            lifetime_minutes: 4320,
            margin_minutes: 1440,
            start: true,
        }
    }
}

/// A subscription as the emulated Graph holds it.
#[derive(Debug, Clone)]
pub struct SandboxSubscription {
    pub id: String,
    pub expiration: DateTime<Utc>,
    pub notification_url: String,
    pub lifecycle_url: Option<String>,
    pub client_state: String,
}

pub struct TestIntake {
    pub sandbox: TestSandbox,
    pub address: String,
    pub intake: Intake,
    pub sink: Arc<RecordingSink>,
    pub store: Arc<dyn Store>,
    pub client_state: String,
    pub callout_secret: String,
    pub http: reqwest::Client,
    workers: Option<IntakeWorkers>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _db: tempfile::TempDir,
}

impl Drop for TestIntake {
    fn drop(&mut self) {
        drop(self.workers.take());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

pub async fn spawn_intake(options: Options) -> TestIntake {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&db.path().join("stagegate.db"), 4)
            .await
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind(loopback0()).await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let client_state = random_secret();
    let callout_secret = random_secret();
    let settings = IntakeSettings {
        client_state: Some(SecretString::from(client_state.clone())),
        callout_secret: Some(SecretString::from(callout_secret.clone())),
        privileged_groups: options.groups.iter().map(|k| sandbox.group_id(k)).collect(),
        poll_interval_seconds: options.poll_interval_seconds,
        body_limit_bytes: options.body_limit_bytes,
        subscription_lifetime_minutes: options.lifetime_minutes,
        renewal_margin_minutes: options.margin_minutes,
    };
    let tenant = sandbox.state.tenant_id();
    let config = IntakeConfig::new(&settings, &address, &tenant).unwrap();
    let (client_id, secret) = {
        let world = sandbox.state.world();
        (world.app.client_id.clone(), world.app.client_secret.clone())
    };
    let http = reqwest::Client::new();
    let tokens = Arc::new(AppTokenSource::new(
        http.clone(),
        &sandbox.state.login_base_url(),
        &tenant,
        &client_id,
        SecretString::from(secret),
        "https://graph.microsoft.com/.default",
    ));
    let graph = GraphClient::new(
        http.clone(),
        &sandbox.graph(""),
        tokens,
        Duration::from_secs(15),
        RetryPolicy::default(),
    );
    let sink = RecordingSink::new();
    let clock = SandboxClock {
        state: sandbox.state.clone(),
        rx: tokio::sync::Mutex::new(sandbox.state.clock.subscribe()),
    };
    let intake = Intake::new(IntakeDeps {
        config,
        sink: sink.clone(),
        graph,
        store: store.clone(),
        clock: Arc::new(clock),
    });
    let router = stagegate::http::with_common_layers(intake.router(), Duration::from_secs(30));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    let workers = options.start.then(|| intake.start());
    TestIntake {
        sandbox,
        address,
        intake,
        sink,
        store,
        client_state,
        callout_secret,
        http,
        workers,
        shutdown: Some(tx),
        _db: db,
    }
}

impl TestIntake {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs raw `body` to `path` with `headers`; returns status and text.
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, String) {
        let mut request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// POSTs a changeNotificationCollection to the notification endpoint.
    pub async fn notify(&self, body: &Value) -> (u16, String) {
        self.post_raw(
            "/api/graph/notifications",
            &[],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// A group-membership notification as Graph sends it (see the sandbox's
    /// dispatcher), carrying `client_state`.
    pub fn membership_notification(
        &self,
        client_state: Option<&str>,
        group: &str,
        member: &str,
        removed: bool,
    ) -> Value {
        let mut delta = json!({ "id": member });
        if removed {
            delta["@removed"] = json!("deleted");
        }
        let mut n = json!({
            "changeType": "updated",
            "resource": format!("Groups/{group}"),
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Group",
                "@odata.id": format!("Groups/{group}"),
                "id": group,
                "organizationId": self.sandbox.state.tenant_id(),
                "members@delta": [delta],
            },
            "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
            "subscriptionId": uuid::Uuid::new_v4().to_string(),
            "tenantId": self.sandbox.state.tenant_id(),
        });
        if let Some(state) = client_state {
            n["clientState"] = json!(state);
        }
        n
    }

    /// POSTs a callout with `secret` (none: no header).
    pub async fn callout(&self, secret: Option<&str>, body: &Value) -> (u16, String) {
        let headers: Vec<(&str, &str)> = secret
            .map(|s| vec![("X-Stagegate-Relay-Secret", s)])
            .unwrap_or_default();
        self.post_raw(
            "/api/graph/callouts",
            &headers,
            body.to_string().into_bytes(),
        )
        .await
    }

    /// The sandbox's subscriptions.
    pub fn sandbox_subscriptions(&self) -> Vec<SandboxSubscription> {
        self.sandbox
            .state
            .notify
            .lock()
            .subscriptions
            .values()
            .map(|s| SandboxSubscription {
                id: s.id.clone(),
                expiration: s.expiration,
                notification_url: s.notification_url.clone(),
                lifecycle_url: s.lifecycle_notification_url.clone(),
                client_state: s.client_state.clone(),
            })
            .collect()
    }

    pub fn group(&self, key: &str) -> ObjectId {
        self.sandbox.group_id(key).parse().unwrap()
    }

    pub fn persona(&self, key: &str) -> ObjectId {
        self.sandbox.persona_id(key).parse().unwrap()
    }
}

/// A callout body in the relay's format (sandbox::notify::callouts).
pub fn callout_body(request: &str, stage: &str) -> Value {
    json!({
        "source": "Entra",
        "type": format!("microsoft.graph.accessPackageCustomExtensionStage.{stage}"),
        "data": {
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCalloutData",
            "stage": stage,
            "customExtensionStageInstanceId": uuid::Uuid::new_v4().to_string(),
            "customExtensionId": null,
            "callbackUriPath": format!("/identityGovernance/entitlementManagement/assignmentRequests/{request}/resume"),
            "callbackConfiguration": null,
            "accessPackageAssignmentRequestId": request,
            "requestType": "userAdd",
            "state": "pendingApproval",
            "status": "PendingApproval",
            "answers": [],
        }
    })
}

/// POSTs `size` bytes with `Transfer-Encoding: chunked` over a raw
/// connection (no Content-Length for the limit layer to see); returns the
/// status.
pub async fn chunked_post(address: &str, path: &str, headers: &[(&str, &str)], size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n{extra}Connection: close\r\n\r\n"
    );
    // The server may answer and close before reading everything.
    let _ = stream.write_all(head.as_bytes()).await;
    for _ in 0..size / 1000 {
        let chunk = format!("3e8\r\n{}\r\n", " ".repeat(1000));
        if stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text}"))
}
