//! A typed client for what a persona does in the sandbox, over HTTP only:
//! Teams and Slack through the emulated platforms' driver APIs (so the bot
//! sees exactly the signed traffic it would in production), the emulated
//! Entra sign-in pages (with their MFA step), the emulated clock, and Graph's
//! state as `/sim/state` summarises it. Scenarios and tests use it.

mod chat;
mod entra;
mod slack;
mod teams;

use std::time::Duration;

use serde_json::{Value, json};

pub use chat::{ChatItem, card_text, slack_text};
pub use entra::{SignInBrowser, SignedIn};

/// What went wrong talking to the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{what}: cannot reach the sandbox: {detail}")]
    Unreachable { what: String, detail: String },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("{what}: {detail}")]
    Unexpected { what: String, detail: String },
    #[error("timed out after {waited:?} waiting for {what}")]
    Timeout { what: String, waited: Duration },
}

/// Drives the sandbox at `sim_url` as its personas would.
pub struct SimClient {
    base: String,
    http: reqwest::Client,
    /// Sign-in links already followed (each is good once).
    used_links: std::sync::Mutex<Vec<String>>,
    /// `/sim/tenant`, read once.
    tenant: tokio::sync::OnceCell<Value>,
}

impl SimClient {
    /// A client of the sandbox whose emulators listen at `sim_url`
    /// (`http://127.0.0.1:3979`).
    #[must_use]
    pub fn new(sim_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            base: sim_url.trim_end_matches('/').to_owned(),
            http,
            used_links: std::sync::Mutex::new(Vec::new()),
            tenant: tokio::sync::OnceCell::new(),
        }
    }

    /// The sandbox's base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET {path}` on the sandbox, expecting a 2xx JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .map_err(|e| unreachable(path, e))?;
        json_of(path, response, true).await.map(|(_, v)| v)
    }

    /// `POST {path}` with `body`; the status and JSON answer, whatever the status.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value), ClientError> {
        let response = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .map_err(|e| unreachable(path, e))?;
        json_of(path, response, false).await
    }

    /// [`Self::post_json`], expecting a 2xx.
    async fn post_ok(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let (status, answer) = self.post_json(path, body).await?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Status {
                what: path.to_owned(),
                status,
                body: answer.to_string(),
            });
        }
        Ok(answer)
    }

    /// Everything a script needs (`/sim/tenant`), read once.
    pub async fn tenant(&self) -> Result<&Value, ClientError> {
        self.tenant
            .get_or_try_init(|| self.get_json("/sim/tenant"))
            .await
    }

    /// The tenant as Graph holds it (`/sim/state`): requests with their
    /// stages and who decided, assignments, group members and eligibility.
    pub async fn graph_state(&self) -> Result<Value, ClientError> {
        self.get_json("/sim/state").await
    }

    /// Moves the emulated clock forward by an ISO-8601 duration (`PT1H`).
    pub async fn advance_clock(&self, duration: &str) -> Result<Value, ClientError> {
        self.post_ok("/sim/clock/advance", &json!({ "duration": duration }))
            .await
    }

    /// An administrator adds `persona` to group `group` (key or id) directly.
    pub async fn add_member(&self, group: &str, persona: &str) -> Result<Value, ClientError> {
        self.post_ok(
            &format!("/sim/groups/{group}/members"),
            &json!({ "persona": persona }),
        )
        .await
    }

    /// A delegated Graph token for `persona` as the emulated Entra issues it
    /// after an interactive sign-in (with MFA when `mfa`).
    pub async fn user_token(&self, persona: &str, mfa: bool) -> Result<String, ClientError> {
        let answer = self
            .post_ok("/sim/tokens", &json!({ "persona": persona, "mfa": mfa }))
            .await?;
        answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| unexpected("/sim/tokens", "no access_token"))
    }

    /// `persona` decides stage `stage_id` of request `request` directly in
    /// Graph, as the My Access portal does (`PATCH …/stages/{id}` with their
    /// own delegated token). Graph's status and body.
    pub async fn decide_in_graph(
        &self,
        persona: &str,
        request: &str,
        stage_id: &str,
        approve: bool,
        justification: &str,
    ) -> Result<(u16, Value), ClientError> {
        let token = self.user_token(persona, true).await?;
        let path = format!(
            "/graph/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{request}/stages/{stage_id}"
        );
        let response = self
            .http
            .patch(self.url(&path))
            .bearer_auth(token)
            .json(&json!({
                "reviewResult": if approve { "Approve" } else { "Deny" },
                "justification": justification,
            }))
            .send()
            .await
            .map_err(|e| unreachable(&path, e))?;
        json_of(&path, response, false).await
    }
}

/// Polls `check` every 25 ms until it yields a value or `timeout` passes;
/// `what` names the awaited condition in the error.
pub async fn wait_until<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, ClientError>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = check().await? {
            return Ok(found);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ClientError::Timeout {
                what: what.to_owned(),
                waited: timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn unreachable(what: &str, error: reqwest::Error) -> ClientError {
    ClientError::Unreachable {
        what: what.to_owned(),
        detail: error.without_url().to_string(),
    }
}

fn unexpected(what: &str, detail: impl Into<String>) -> ClientError {
    ClientError::Unexpected {
        what: what.to_owned(),
        detail: detail.into(),
    }
}

/// The status and JSON body (`null` when empty); a non-2xx is an error
/// when `require_ok`.
async fn json_of(
    what: &str,
    response: reqwest::Response,
    require_ok: bool,
) -> Result<(u16, Value), ClientError> {
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| unreachable(what, e))?;
    if require_ok && !(200..300).contains(&status) {
        return Err(ClientError::Status {
            what: what.to_owned(),
            status,
            body: text,
        });
    }
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok((status, value))
}
