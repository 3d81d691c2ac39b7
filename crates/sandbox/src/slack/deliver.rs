//! Sending the bot what Slack sends: a form body signed as
//! docs/architecture.md, "Slack request signing", says, with Slack's headers,
//! and Slack's 3-second acknowledgement deadline.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::state::Delivery;
use crate::SimState;

/// Slack gives up on an unacknowledged command or click after 3 s.
pub const ACK_DEADLINE_MS: u64 = 3000;

/// `v0=` + hex HMAC-SHA256(secret, `v0:{ts}:{body}`). Independent of the
/// bot's verifier on purpose; both are checked against Slack's vector.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// What the bot answered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ack {
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub body: String,
    pub elapsed_ms: u64,
    pub timed_out: bool,
    pub error: Option<String>,
}

impl Ack {
    /// A 200 within the deadline.
    pub fn acknowledged(&self) -> bool {
        !self.timed_out && self.status == Some(200)
    }
}

/// POSTs `body` (form-encoded) to `url`, signed with the sandbox's signing
/// secret, and records the outcome. The timestamp is real time, not the
/// emulated clock: the bot checks it against its own clock, as with Slack.
pub async fn deliver(state: &SimState, kind: &str, url: &str, body: String) -> Ack {
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign(state.slack.signing_secret(), timestamp, body.as_bytes());
    let deadline = Duration::from_millis(state.slack.lock().bot.ack_timeout_ms);
    let started = Instant::now();
    let request = state
        .slack
        .http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json,*/*")
        .header("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body);
    let exchange = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await?;
        state.record_bot_answer(&text);
        Ok::<_, reqwest::Error>((status, content_type, text))
    };
    let outcome = tokio::time::timeout(deadline, exchange).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let ack = match outcome {
        Err(_) => Ack {
            status: None,
            content_type: None,
            body: String::new(),
            elapsed_ms,
            timed_out: true,
            error: Some("operation_timeout".into()),
        },
        Ok(Err(e)) => Ack {
            status: None,
            content_type: None,
            body: String::new(),
            elapsed_ms,
            timed_out: false,
            error: Some(e.without_url().to_string()),
        },
        Ok(Ok((status, content_type, body))) => Ack {
            status: Some(status),
            content_type,
            body,
            elapsed_ms,
            timed_out: false,
            error: None,
        },
    };
    if ack.timed_out {
        tracing::warn!(
            kind,
            elapsed_ms,
            "the bot did not acknowledge within the deadline"
        );
    }
    state.slack.lock().deliveries.push(Delivery {
        kind: kind.into(),
        url: url.into(),
        status: ack.status,
        elapsed_ms,
        timed_out: ack.timed_out,
        error: ack.error.clone(),
    });
    ack
}
