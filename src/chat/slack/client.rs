//! The thin Slack Web API client: one `reqwest::Client`, the bot token as a
//! Bearer header, JSON bodies for the write methods and a form for the read
//! ones (Slack accepts both; JSON needs the header). Calls wait for the rate
//! limiter first ([`super::limits`]); a 429 is retried after its
//! `Retry-After` (via `backon`), `ok: false` becomes [`SlackError::Api`].

use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::blocks;
use super::error::SlackError;
use super::limits::{ClientLimits, RateLimits};
pub use super::types::*;
use crate::config::SlackSettings;
use crate::metrics::{Recorder, Service};
use crate::retry::RetryPolicy;

/// The longest `views.open` waits for its rate-limit slot: well inside the
/// trigger's 3 s, leaving time for the call itself.
const TRIGGER_SLOT_WAIT: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub limits: ClientLimits,
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            limits: ClientLimits::default(),
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    base_url: String,
    token: SecretString,
    limits: Arc<RateLimits>,
    options: Arc<ClientOptions>,
    metrics: Recorder,
}

impl std::fmt::Debug for SlackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Encoding {
    Json,
    Form,
}

impl SlackClient {
    #[must_use]
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        token: SecretString,
        options: ClientOptions,
    ) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
            limits: Arc::new(RateLimits::new(&options.limits)),
            options: Arc::new(options),
            metrics: Recorder::default(),
        }
    }

    /// Counts every attempt in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Recorder) -> Self {
        self.metrics = metrics;
        self
    }

    #[must_use]
    pub fn from_settings(http: reqwest::Client, settings: &SlackSettings) -> Self {
        Self::new(
            http,
            &settings.api_base_url,
            settings.bot_token.clone(),
            ClientOptions::default(),
        )
    }

    pub async fn post_message(&self, message: &PostMessage) -> Result<PostedMessage, SlackError> {
        let mut message = message.clone();
        message.text = blocks::fit_message_text(&message.text);
        if let Some(b) = message.blocks.as_mut() {
            blocks::fit_message_blocks(b)?;
        }
        let channel = message.channel.clone();
        self.call("chat.postMessage", Some(&channel), &message, Encoding::Json)
            .await
    }

    pub async fn update_message(
        &self,
        update: &UpdateMessage,
    ) -> Result<PostedMessage, SlackError> {
        let mut update = update.clone();
        update.text = blocks::fit_message_text(&update.text);
        if let Some(b) = update.blocks.as_mut() {
            blocks::fit_message_blocks(b)?;
        }
        self.call(
            "chat.update",
            Some(&update.channel),
            &update,
            Encoding::Json,
        )
        .await
    }

    pub async fn post_ephemeral(
        &self,
        message: &PostEphemeral,
    ) -> Result<EphemeralPosted, SlackError> {
        let mut message = message.clone();
        message.text = blocks::fit_message_text(&message.text);
        if let Some(b) = message.blocks.as_mut() {
            blocks::fit_message_blocks(b)?;
        }
        self.call(
            "chat.postEphemeral",
            Some(&message.channel),
            &message,
            Encoding::Json,
        )
        .await
    }

    /// Opens (or finds) the bot's DM with `user` (`U…`) and returns its `D…`
    /// id, the one `chat.postMessage` and `chat.update` need.
    pub async fn open_dm(&self, user: &str) -> Result<String, SlackError> {
        #[derive(Deserialize)]
        struct Opened {
            channel: Channel,
        }
        #[derive(Deserialize)]
        struct Channel {
            id: String,
        }
        let opened: Opened = self
            .call(
                "conversations.open",
                None,
                &json!({ "users": user }),
                Encoding::Json,
            )
            .await?;
        Ok(opened.channel.id)
    }

    /// One page of `channel`'s history from `oldest` (a Slack `ts`), newest
    /// first, with the messages' metadata.
    pub async fn history(
        &self,
        channel: &str,
        oldest: &str,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, SlackError> {
        let mut body = json!({
            "channel": channel,
            "oldest": oldest,
            "limit": 200,
            "include_all_metadata": true,
        });
        if let Some(cursor) = cursor {
            body["cursor"] = json!(cursor);
        }
        self.call("conversations.history", None, &body, Encoding::Json)
            .await
    }

    /// Opens a modal; `trigger_id` is only good for 3 s after the click.
    pub async fn open_view(&self, trigger_id: &str, view: &Value) -> Result<ViewInfo, SlackError> {
        let mut view = view.clone();
        blocks::fit_modal(&mut view)?;
        let body = json!({ "trigger_id": trigger_id, "view": view });
        // The trigger expires 3 s after the click: a slot that comes later,
        // or a retry, would only earn `expired_trigger_id`. One attempt, and
        // the caller asks the person to click again.
        const METHOD: &str = "views.open";
        let answered = tokio::time::timeout(TRIGGER_SLOT_WAIT, self.limits.acquire(METHOD, None))
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(SlackError::RateLimited {
                method: METHOD,
                retry_after: TRIGGER_SLOT_WAIT,
            })?;
        let value = self.send_once(METHOD, &body, Encoding::Json).await;
        drop(answered);
        serde_json::from_value::<ViewEnvelope>(value?)
            .map(|e| e.view)
            .map_err(|e| SlackError::Decode {
                method: METHOD,
                detail: e.to_string(),
            })
    }

    pub async fn update_view(
        &self,
        target: &ViewRef,
        view: &Value,
        hash: Option<&str>,
    ) -> Result<ViewInfo, SlackError> {
        let mut view = view.clone();
        blocks::fit_modal(&mut view)?;
        let mut body = json!({ "view": view });
        match target {
            ViewRef::Id(id) => body["view_id"] = json!(id),
            ViewRef::External(id) => body["external_id"] = json!(id),
        }
        if let Some(hash) = hash {
            body["hash"] = json!(hash);
        }
        self.call::<_, ViewEnvelope>("views.update", None, &body, Encoding::Json)
            .await
            .map(|e| e.view)
    }

    pub async fn user_info(&self, user: &str) -> Result<SlackUser, SlackError> {
        #[derive(Deserialize)]
        struct Envelope {
            user: SlackUser,
        }
        self.call::<_, Envelope>("users.info", None, &[("user", user)], Encoding::Form)
            .await
            .map(|e| e.user)
    }

    /// The workspace member whose email is `email` (scope
    /// `users:read.email`); `users_not_found` when there is none.
    /// Deactivated members are found too, with `deleted: true`.
    pub async fn lookup_by_email(&self, email: &str) -> Result<SlackUser, SlackError> {
        #[derive(Deserialize)]
        struct Envelope {
            user: SlackUser,
        }
        self.call::<_, Envelope>(
            "users.lookupByEmail",
            None,
            &[("email", email)],
            Encoding::Form,
        )
        .await
        .map(|e| e.user)
    }

    /// Who the token belongs to (the bot user and its workspace).
    pub async fn auth_test(&self) -> Result<AuthTest, SlackError> {
        self.call("auth.test", None, &[] as &[(&str, &str)], Encoding::Form)
            .await
    }

    async fn call<B, T>(
        &self,
        method: &'static str,
        channel: Option<&str>,
        body: &B,
        encoding: Encoding,
    ) -> Result<T, SlackError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let retry = &self.options.retry;
        // A delivery with other work to do does not wait in a long line.
        let first = match crate::chat::port::QUEUE_PATIENCE.try_with(|p| *p) {
            Ok(patience) => Some(
                self.limits
                    .acquire_within(method, channel, patience)
                    .await
                    .map_err(|retry_after| SlackError::RateLimited {
                        method,
                        retry_after,
                    })?,
            ),
            Err(_) => None,
        };
        let first = std::sync::Mutex::new(first);
        let attempt = || async {
            let held = first.lock().unwrap_or_else(|p| p.into_inner()).take();
            let _answered = match held {
                Some(slot) => slot,
                None => self.limits.acquire(method, channel).await.map_err(|_| {
                    SlackError::RateLimited {
                        method,
                        retry_after: super::limits::LINE_FULL_RETRY,
                    }
                })?,
            };
            self.send_once(method, body, encoding).await
        };
        let value = attempt
            .retry(retry.backoff())
            .sleep(tokio::time::sleep)
            // A post whose answer never came may have landed: the outbox,
            // which marks its posts, looks before posting again.
            .when(|e| {
                e.is_transient()
                    && retry.waits_inline(e.retry_after())
                    && !(method == "chat.postMessage" && matches!(e, SlackError::Transport(_)))
            })
            .adjust(|e, backoff| e.retry_after().or(backoff))
            .notify(|e, wait| {
                tracing::debug!(method, wait_ms = wait.as_millis() as u64, error = %e, "retrying Slack call");
                self.metrics.retry(Service::Slack, method);
            })
            .await?;
        serde_json::from_value(value).map_err(|e| SlackError::Decode {
            method,
            detail: e.to_string(),
        })
    }

    async fn send_once<B>(
        &self,
        method: &'static str,
        body: &B,
        encoding: Encoding,
    ) -> Result<Value, SlackError>
    where
        B: Serialize + ?Sized,
    {
        let request = self
            .http
            .post(format!("{}/{method}", self.base_url))
            .bearer_auth(self.token.expose_secret())
            .timeout(self.options.timeout);
        let request = match encoding {
            Encoding::Json => request.json(body),
            Encoding::Form => request.form(body),
        };
        let sent = self.metrics.send(Service::Slack, method, request).await;
        let response = sent.map_err(|e| SlackError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            // Slack always sends Retry-After with a 429; a second is the
            // SDKs' fallback when it is unreadable.
            let retry_after =
                crate::retry::retry_after(response.headers()).unwrap_or(Duration::from_secs(1));
            return Err(SlackError::RateLimited {
                method,
                retry_after,
            });
        }
        if !status.is_success() {
            return Err(SlackError::Http {
                method,
                status: status.as_u16(),
            });
        }
        let value: Value = response.json().await.map_err(|e| SlackError::Decode {
            method,
            detail: e.without_url().to_string(),
        })?;
        if value.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(value);
        }
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        Err(SlackError::Api {
            method,
            error: text("error").unwrap_or_else(|| "unknown_error".into()),
            needed: text("needed"),
            provided: text("provided"),
            messages: value
                .pointer("/response_metadata/messages")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

#[derive(Deserialize)]
struct ViewEnvelope {
    view: ViewInfo,
}
