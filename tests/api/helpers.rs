#![allow(dead_code)] // each test uses a different part of the harness
//! `spawn_sandbox()` / `spawn_app()`: fresh emulators (and bot) on random
//! loopback ports for every test.

use std::net::SocketAddr;

use serde_json::{Value, json};
use stagegate::app::Application;
use stagegate_lab::wiring::BotWiring;
use stagegate_sandbox::{Sandbox, SandboxOptions, SimState};

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
        secrets: None,
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

    /// Adds a `/sim/faults` rule; the rule as the sandbox recorded it.
    pub async fn add_fault(&self, rule: Value) -> Value {
        let response = self
            .http
            .post(self.url("/sim/faults"))
            .json(&rule)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{rule}");
        response.json().await.unwrap()
    }

    /// The `/sim/faults` rules in force, each with its `hits`.
    pub async fn faults(&self) -> Vec<Value> {
        self.sim_json("/sim/faults").await["value"]
            .as_array()
            .cloned()
            .expect("/sim/faults lists its rules in `value`")
    }

    /// `GET {path}` on the sandbox, as JSON.
    async fn sim_json(&self, path: &str) -> Value {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Removes every `/sim/faults` rule.
    pub async fn clear_faults(&self) {
        let response = self
            .http
            .delete(self.url("/sim/faults"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
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
    spawn_app_with(|_| {}).await
}

// ---- Entitlement management (graph_requests / graph_approvals / graph_lifecycle)

pub const REQUESTS: &str = "/identityGovernance/entitlementManagement/assignmentRequests";
pub const APPROVALS: &str =
    "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";
pub const ASSIGNMENTS: &str = "/identityGovernance/entitlementManagement/assignments";

impl TestSandbox {
    /// A Graph call with `token`; returns the status and the JSON body
    /// (`Null` when there is none).
    pub async fn graph_call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.graph(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    pub async fn graph_get(&self, token: &str, path: &str) -> (u16, Value) {
        self.graph_call(reqwest::Method::GET, token, path, None)
            .await
    }

    pub async fn graph_post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        self.graph_call(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    pub async fn graph_patch(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        self.graph_call(reqwest::Method::PATCH, token, path, Some(body))
            .await
    }

    /// `(package id, policy id, question id)` of a seeded package alias.
    pub fn package(&self, alias: &str) -> (String, String, Option<String>) {
        let world = self.state.world();
        let package = world
            .access_packages
            .values()
            .find(|p| p.key == alias)
            .unwrap_or_else(|| panic!("no package {alias}"));
        let policy = world
            .policies
            .values()
            .find(|p| p.access_package_id == package.id)
            .unwrap();
        let question = policy.questions.first().map(|q| q.id().to_owned());
        (package.id.clone(), policy.id.clone(), question)
    }

    /// A `userAdd` by `persona` for package `alias` answering the ticket
    /// question with `ticket`, with a justification.
    pub async fn request_package(&self, persona: &str, alias: &str, ticket: &str) -> (u16, Value) {
        let (package, policy, question) = self.package(alias);
        let token = self.user_token(persona, true).await;
        let mut body = json!({
            "requestType": "userAdd",
            "assignment": {
                "targetId": self.persona_id(persona),
                "assignmentPolicyId": policy,
                "accessPackageId": package,
            },
            "justification": format!("{ticket} needed for an incident"),
        });
        if let Some(q) = question {
            body["answers"] = json!([{
                "@odata.type": "#microsoft.graph.accessPackageAnswerString",
                "value": ticket,
                "answeredQuestion": {
                    "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                    "id": q,
                },
            }]);
        }
        self.graph_post(&token, REQUESTS, &body).await
    }

    /// Submits a request that must succeed; returns its id.
    pub async fn submit(&self, persona: &str, alias: &str) -> String {
        let (status, body) = self.request_package(persona, alias, "INC-4711").await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// The request as the app sees it, with its assignment expanded.
    pub async fn request_json(&self, id: &str) -> Value {
        let token = self.app_token().await;
        let (status, body) = self
            .graph_get(&token, &format!("{REQUESTS}/{id}?$expand=assignment"))
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The approval of request `id` as `persona` sees it.
    pub async fn approval(&self, persona: &str, id: &str) -> (u16, Value) {
        let token = self.user_token(persona, true).await;
        self.graph_get(&token, &format!("{APPROVALS}/{id}")).await
    }

    /// `persona` decides the stage in progress (`Approve` / `Deny`).
    pub async fn decide(
        &self,
        persona: &str,
        id: &str,
        decision: &str,
        justification: &str,
    ) -> (u16, Value) {
        let stage = self.current_stage_id(id);
        let token = self.user_token(persona, true).await;
        self.graph_patch(
            &token,
            &format!("{APPROVALS}/{id}/stages/{stage}"),
            &json!({ "reviewResult": decision, "justification": justification }),
        )
        .await
    }

    /// The id of the stage in progress (or the last started one).
    pub fn current_stage_id(&self, id: &str) -> String {
        let world = self.state.world();
        let request = &world.requests[id];
        request
            .stages
            .iter()
            .rev()
            .find(|s| s.started.is_some())
            .map(|s| s.id.clone())
            .unwrap_or_else(|| panic!("request {id} has no started stage"))
    }

    /// How many recorded events satisfy `pred`.
    pub fn count_events(
        &self,
        pred: impl Fn(&stagegate_sandbox::world::SimEvent) -> bool,
    ) -> usize {
        self.state.world().events.iter().filter(|e| pred(e)).count()
    }
}

/// A delivered access-package assignment of `package_alias` for persona
/// `persona`, starting now (emulated) and lasting `duration`, inserted
/// straight into the world (until the request lifecycle delivers them).
/// Returns the assignment id.
pub fn grant_assignment(
    sandbox: &TestSandbox,
    persona: &str,
    package_alias: &str,
    duration: &str,
) -> String {
    use stagegate_sandbox::clock::parse_iso_duration;
    use stagegate_sandbox::world::Assignment;

    let now = sandbox.state.clock.now();
    let length = parse_iso_duration(duration).expect("ISO duration");
    let mut world = sandbox.state.world();
    let target_id = world
        .user_by_key(persona)
        .unwrap_or_else(|| panic!("no persona {persona}"))
        .id
        .clone();
    let package = world
        .access_packages
        .values()
        .find(|p| p.key == package_alias)
        .unwrap_or_else(|| panic!("no package {package_alias}"))
        .id
        .clone();
    let policy_id = world
        .policies
        .values()
        .find(|p| p.access_package_id == package)
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    world.assignments.insert(
        id.clone(),
        Assignment {
            id: id.clone(),
            state: "delivered".into(),
            status: "Delivered".into(),
            access_package_id: package,
            policy_id,
            target_id,
            start: now,
            end: Some(now + length),
            expired_at: None,
        },
    );
    id
}

/// The id of the group with tenant-file key `key`.
pub fn group_id(sandbox: &TestSandbox, key: &str) -> String {
    sandbox
        .state
        .world()
        .groups
        .values()
        .find(|g| g.key == key)
        .unwrap_or_else(|| panic!("no group {key}"))
        .id
        .clone()
}

impl TestSandbox {
    /// A delegated token for persona `key` (every consented scope) after a
    /// sign-in with or without MFA that satisfied the auth contexts `acrs`.
    pub async fn user_token_acrs(&self, key: &str, mfa: bool, acrs: &[&str]) -> String {
        self.mint(json!({ "persona": key, "mfa": mfa, "acrs": acrs }))
            .await
    }
}

// ---------------------------------------------------------------------------
// Webhook receiver for subscription / callout tests.

/// How a [`Receiver`] answers Graph's validation handshake.
#[derive(Debug, Clone, Copy)]
pub enum Handshake {
    /// 200, text/plain, the decoded token (what Graph requires).
    Echo,
    /// 200, text/plain, something else.
    WrongToken,
    /// Answers this status.
    Status(u16),
    /// Echoes, but only after this long.
    Slow(std::time::Duration),
}

/// How a [`Receiver`] answers one delivery.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Answers `202` after this long.
    Slow(std::time::Duration),
}

/// One POST a [`Receiver`] got (validation requests excluded).
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

struct ReceiverShared {
    handshake: Handshake,
    answers: std::sync::Mutex<std::collections::VecDeque<Answer>>,
    validations: std::sync::Mutex<Vec<String>>,
    tx: tokio::sync::mpsc::UnboundedSender<Received>,
}

/// A tiny webhook endpoint on 127.0.0.1:0: answers validation handshakes as
/// told, records every other POST, answers `202` unless answers are queued.
pub struct Receiver {
    pub base_url: String,
    shared: std::sync::Arc<ReceiverShared>,
    rx: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Received>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn receive(
    axum::extract::State(shared): axum::extract::State<std::sync::Arc<ReceiverShared>>,
    uri: axum::http::Uri,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let text_plain = [(axum::http::header::CONTENT_TYPE, "text/plain")];
    if let Some(token) = query.get("validationToken") {
        shared.validations.lock().unwrap().push(token.clone());
        return match shared.handshake {
            Handshake::Echo => (text_plain, token.clone()).into_response(),
            Handshake::WrongToken => (text_plain, "not-the-token").into_response(),
            Handshake::Status(s) => axum::http::StatusCode::from_u16(s).unwrap().into_response(),
            Handshake::Slow(d) => {
                tokio::time::sleep(d).await;
                (text_plain, token.clone()).into_response()
            }
        };
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = shared.tx.send(Received {
        path: uri.path().to_owned(),
        headers,
        body,
    });
    let answer = shared.answers.lock().unwrap().pop_front();
    match answer {
        Some(Answer::Status(s)) => axum::http::StatusCode::from_u16(s).unwrap().into_response(),
        Some(Answer::Slow(d)) => {
            tokio::time::sleep(d).await;
            axum::http::StatusCode::ACCEPTED.into_response()
        }
        None => axum::http::StatusCode::ACCEPTED.into_response(),
    }
}

impl Receiver {
    pub async fn start(handshake: Handshake) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let shared = std::sync::Arc::new(ReceiverShared {
            handshake,
            answers: Default::default(),
            validations: Default::default(),
            tx,
        });
        let app = axum::Router::new()
            .fallback(axum::routing::post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(loopback0()).await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            base_url,
            shared,
            rx: tokio::sync::Mutex::new(rx),
            shutdown: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Queues answers for the next deliveries (then `202` again).
    pub fn answer_next(&self, answers: &[Answer]) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .extend(answers.iter().copied());
    }

    /// Validation tokens received so far.
    pub fn validations(&self) -> Vec<String> {
        self.shared.validations.lock().unwrap().clone()
    }

    /// The next delivery; fails the test after 10 s.
    pub async fn next(&self) -> Received {
        let mut rx = self.rx.lock().await;
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("no delivery within 10 s")
            .expect("receiver closed")
    }
}

/// Re-checks `check` (every 20 ms, at most 30 s) until it returns `Some`; for
/// state the sandbox records after answering (no signal to await). 30 s, not
/// less: on a loaded 2-core CI machine a few seconds of delivery delay is
/// normal, and a passing check returns at once anyway.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..1500 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("condition not reached within 30 s");
}

impl TestSandbox {
    /// `GET /sim/notifications[?subscriptionId=…]` → its `value`.
    pub async fn notifications(&self, subscription_id: Option<&str>) -> Vec<Value> {
        let path = match subscription_id {
            Some(id) => format!("/sim/notifications?subscriptionId={id}"),
            None => "/sim/notifications".to_owned(),
        };
        self.sim_json(&path).await["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `GET /sim/callouts` → its `value`.
    pub async fn callouts(&self) -> Vec<Value> {
        self.sim_json("/sim/callouts").await["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The id of group `key` in the tenant file.
    pub fn group_id(&self, key: &str) -> String {
        self.state
            .world()
            .groups
            .values()
            .find(|g| g.key == key)
            .unwrap_or_else(|| panic!("no group {key}"))
            .id
            .clone()
    }
}

/// Like [`spawn_app`], with `configure` applied to the bot's settings first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut stagegate::config::Settings)) -> TestApp {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let mut settings = sandbox
        .state
        .bot_settings(loopback0(), db.path().join("stagegate.db"));
    configure(&mut settings);
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

/// Every approval `PATCH` the emulated Graph gets from now on answers
/// `ms` late (it is applied only then): a slow Graph under load.
pub async fn delay_graph_patches(sandbox: &TestSandbox, ms: u64) {
    sandbox
        .add_fault(json!({ "path": "/identityGovernance/*", "method": "PATCH", "delayMs": ms }))
        .await;
}
