//! The Bot Connector client: the bot's token by client credentials for
//! `https://api.botframework.com/.default` from its own tenant (single-tenant
//! bot), cached and refreshed one at a time; calls only to allowlisted
//! serviceUrls; Teams' rate limits applied before sending; 429 / 412 /
//! 502–504 retried with jittered backoff honouring `Retry-After`; 403, 404
//! and 413 surfaced at once as typed errors.

pub(crate) mod error;
pub(crate) mod throttle;

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::activity::{
    ChannelAccount, ConversationParameters, ConversationResourceResponse, IdRef, OutgoingActivity,
    ResourceResponse, TeamsChannelAccount, TeamsChannelData,
};
use super::service_url::ServiceUrl;
use crate::metrics::{Recorder, Service, connector_operation};
use crate::retry::RetryPolicy;
use crate::token::AppTokenSource;
pub use error::TeamsError;
use throttle::Throttle;

/// The scope of the bot's connector token (docs/architecture.md, "Teams
/// authentication").
pub(crate) const CONNECTOR_SCOPE: &str = "https://api.botframework.com/.default";

pub struct ConnectorClient {
    http: reqwest::Client,
    tokens: Arc<AppTokenSource>,
    throttle: Throttle,
    retry: RetryPolicy,
    timeout: Duration,
    metrics: Recorder,
}

impl std::fmt::Debug for ConnectorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorClient").finish_non_exhaustive()
    }
}

impl ConnectorClient {
    /// `tokens` must be an [`AppTokenSource`] for [`CONNECTOR_SCOPE`] at the
    /// bot's own tenant (`{login}/{tenant}/oauth2/v2.0/token`).
    pub fn new(http: reqwest::Client, tokens: Arc<AppTokenSource>, retry: RetryPolicy) -> Self {
        Self {
            http,
            tokens,
            throttle: Throttle::new(),
            retry,
            timeout: Duration::from_secs(30),
            metrics: Recorder::default(),
        }
    }

    /// Counts every attempt in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Recorder) -> Self {
        self.metrics = metrics;
        self
    }

    /// The token source for a single-tenant bot.
    pub fn token_source(
        http: reqwest::Client,
        login_base_url: &str,
        tenant_id: &str,
        app_id: &str,
        app_password: SecretString,
    ) -> AppTokenSource {
        AppTokenSource::new(
            http,
            login_base_url,
            tenant_id,
            app_id,
            app_password,
            CONNECTOR_SCOPE,
        )
    }

    /// Creates (or finds) the 1:1 conversation with a user, by their Teams
    /// id (`29:…`) or Entra object id, for a proactive message.
    pub async fn create_personal_conversation(
        &self,
        service_url: &ServiceUrl,
        bot: ChannelAccount,
        user_id: &str,
        tenant_id: &str,
    ) -> Result<ConversationResourceResponse, TeamsError> {
        let params = ConversationParameters {
            is_group: false,
            bot: Some(bot),
            members: vec![ChannelAccount {
                id: user_id.to_owned(),
                ..ChannelAccount::default()
            }],
            tenant_id: Some(tenant_id.to_owned()),
            activity: None,
            channel_data: Some(TeamsChannelData {
                tenant: Some(IdRef {
                    id: tenant_id.to_owned(),
                    name: None,
                }),
                ..TeamsChannelData::default()
            }),
        };
        let thread = format!("create:{user_id}");
        let created: ConversationResourceResponse = self
            .call(
                service_url,
                Method::POST,
                &["v3", "conversations"],
                &thread,
                Some(&params),
            )
            .await?;
        // Teams bills the create to the conversation it answers with.
        self.throttle.also_counted(&created.id);
        Ok(created)
    }

    /// Starts a new thread in a channel with `activity`; the answer's `id`
    /// is the thread's conversation id and `activityId` the root message's.
    pub async fn create_channel_thread(
        &self,
        service_url: &ServiceUrl,
        channel_id: &str,
        tenant_id: &str,
        activity: &OutgoingActivity,
    ) -> Result<ConversationResourceResponse, TeamsError> {
        let params = ConversationParameters {
            is_group: true,
            bot: None,
            members: Vec::new(),
            tenant_id: Some(tenant_id.to_owned()),
            activity: Some(activity.clone()),
            channel_data: Some(TeamsChannelData {
                channel: Some(IdRef {
                    id: channel_id.to_owned(),
                    name: None,
                }),
                tenant: Some(IdRef {
                    id: tenant_id.to_owned(),
                    name: None,
                }),
                ..TeamsChannelData::default()
            }),
        };
        self.call(
            service_url,
            Method::POST,
            &["v3", "conversations"],
            channel_id,
            Some(&params),
        )
        .await
    }

    pub async fn send_to_conversation(
        &self,
        service_url: &ServiceUrl,
        conversation_id: &str,
        activity: &OutgoingActivity,
    ) -> Result<ResourceResponse, TeamsError> {
        let path = ["v3", "conversations", conversation_id, "activities"];
        self.call(
            service_url,
            Method::POST,
            &path,
            conversation_id,
            Some(activity),
        )
        .await
    }

    pub async fn reply_to_activity(
        &self,
        service_url: &ServiceUrl,
        conversation_id: &str,
        activity_id: &str,
        activity: &OutgoingActivity,
    ) -> Result<ResourceResponse, TeamsError> {
        let path = [
            "v3",
            "conversations",
            conversation_id,
            "activities",
            activity_id,
        ];
        self.call(
            service_url,
            Method::POST,
            &path,
            conversation_id,
            Some(activity),
        )
        .await
    }

    /// Replaces a message the bot sent (e.g. a card after a decision).
    pub async fn update_activity(
        &self,
        service_url: &ServiceUrl,
        conversation_id: &str,
        activity_id: &str,
        activity: &OutgoingActivity,
    ) -> Result<ResourceResponse, TeamsError> {
        let path = [
            "v3",
            "conversations",
            conversation_id,
            "activities",
            activity_id,
        ];
        self.call(
            service_url,
            Method::PUT,
            &path,
            conversation_id,
            Some(activity),
        )
        .await
    }

    pub async fn get_members(
        &self,
        service_url: &ServiceUrl,
        conversation_id: &str,
    ) -> Result<Vec<TeamsChannelAccount>, TeamsError> {
        let path = ["v3", "conversations", conversation_id, "members"];
        self.call(
            service_url,
            Method::GET,
            &path,
            conversation_id,
            None::<&()>,
        )
        .await
    }

    /// Paces, sends, retries, decodes.
    async fn call<B, T>(
        &self,
        service_url: &ServiceUrl,
        method: Method,
        path: &[&str],
        thread: &str,
        body: Option<&B>,
    ) -> Result<T, TeamsError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let url = service_url
            .join(path)
            .map_err(|e| TeamsError::ServiceUrlNotAllowed(e.to_string()))?;
        let mut backoff = self.retry.backoff().build();
        let mut refreshed_token = false;
        let operation = connector_operation(method.as_str(), path);
        // Kept through retries: see `throttle` for why.
        let mut turn = self.throttle.turn(thread).await.map_err(line_full)?;
        loop {
            let token = self
                .tokens
                .token()
                .await
                .map_err(|e| TeamsError::Token(e.to_string()))?;
            // Held until the answer is in: see `throttle` for why.
            let permit = turn.slot().await.map_err(line_full)?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret())
                .timeout(self.timeout);
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = self
                .metrics
                .send(Service::BotConnector, &operation, request)
                .await;
            let error = match sent {
                Ok(response) if response.status().is_success() => {
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| TeamsError::Transport(e.without_url().to_string()))?;
                    drop(permit);
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| TeamsError::Decode(e.to_string()));
                }
                Ok(response) => TeamsError::from_response(response).await,
                // Only failures to connect are safe to repeat: a timed-out
                // POST may have been delivered, and a retry would post twice.
                Err(e) if e.is_connect() => TeamsError::Transport(e.without_url().to_string()),
                Err(e) => return Err(TeamsError::Transport(e.without_url().to_string())),
            };
            // A token the connector refuses may have been revoked early:
            // fetch a new one once (docs/architecture.md, "Teams
            // authentication").
            if matches!(error, TeamsError::Unauthorized { .. }) && !refreshed_token {
                refreshed_token = true;
                self.tokens.invalidate().await;
                self.metrics.retry(Service::BotConnector, &operation);
                continue;
            }
            if !error.is_transient() && !matches!(error, TeamsError::Transport(_)) {
                return Err(error);
            }
            drop(permit);
            let Some(wait) = self.retry.next_wait(&mut backoff, error.retry_after()) else {
                return Err(error);
            };
            tracing::debug!(%method, thread, wait_ms = wait.as_millis() as u64, %error, "retrying a Bot Connector call");
            self.metrics.retry(Service::BotConnector, &operation);
            tokio::time::sleep(wait).await;
        }
    }
}

/// A send refused because too many already wait for the conversation
/// (`throttle::MAX_LINE_PER_THREAD`): throttling, as Teams' own 429, so
/// the outbox reschedules it.
fn line_full(_: crate::chat::pacing::LineFull) -> TeamsError {
    TeamsError::RateLimited {
        retry_after: Some(std::time::Duration::from_secs(30)),
    }
}
