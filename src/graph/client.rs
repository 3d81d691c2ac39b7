//! The thin Graph client: one `reqwest::Client`, bearer auth (the app's token
//! or a person's delegated token), a timeout on every call, and retries with
//! exponential backoff and jitter on 429 / 502–504 / connection errors that
//! honour `Retry-After`. Other 4xx are never retried.

use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::GraphError;
use crate::metrics::{Recorder, Service, graph_operation};
use crate::retry::RetryPolicy;
use crate::token::AppTokenSource;

/// Whose identity a call uses.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    /// The app itself (client credentials).
    App,
    /// A person, with their delegated access token.
    User(&'a SecretString),
}

#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    app_token: Arc<AppTokenSource>,
    timeout: Duration,
    retry: RetryPolicy,
    metrics: Recorder,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        app_token: Arc<AppTokenSource>,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            app_token,
            timeout,
            retry,
            metrics: Recorder::default(),
        }
    }

    /// Counts every attempt in `metrics` (the bot's; tests' clients count
    /// nowhere).
    #[must_use]
    pub fn with_metrics(mut self, metrics: Recorder) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where this client counts, for the clients built beside it.
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.metrics
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The path of an absolute link Graph returned (`@odata.nextLink`),
    /// or `None` when it points anywhere but this client's Graph: a bearer
    /// token is never sent to a host a response named.
    pub fn relative<'a>(&self, link: &'a str) -> Option<&'a str> {
        link.strip_prefix(self.base_url.as_str())
            .filter(|rest| rest.starts_with('/'))
    }

    /// Every item of a collection, following `@odata.nextLink` (at most
    /// `max_pages` pages, so a misbehaving upstream cannot loop forever).
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        path: &str,
        max_pages: usize,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_owned());
        let mut pages = 0;
        while let Some(path) = next.take() {
            let page: super::models::Page<T> = self.get(auth, &path).await?;
            items.extend(page.value);
            pages += 1;
            if pages >= max_pages {
                break;
            }
            if let Some(link) = page.next_link {
                let path = self.relative(&link).ok_or_else(|| {
                    GraphError::Decode("a next link points outside Microsoft Graph".into())
                })?;
                next = Some(path.to_owned());
            }
        }
        Ok(items)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        path: &str,
    ) -> Result<T, GraphError> {
        let response = self.send(auth, Method::GET, path, None::<&()>).await?;
        decode(response).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        path: &str,
        body: &B,
    ) -> Result<T, GraphError> {
        let response = self.send(auth, Method::POST, path, Some(body)).await?;
        decode(response).await
    }

    /// For calls answered with `204 No Content` (PATCH a stage, cancel …).
    pub async fn send_no_content<B: Serialize>(
        &self,
        auth: Auth<'_>,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<(), GraphError> {
        self.send(auth, method, path, body).await.map(drop)
    }

    /// Sends with retries; returns the successful response or a typed error.
    pub async fn send<B: Serialize>(
        &self,
        auth: Auth<'_>,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<reqwest::Response, GraphError> {
        let mut backoff = self.retry.backoff().build();
        let mut refreshed_app_token = false;
        let operation = graph_operation(method.as_str(), path);
        loop {
            let token = match auth {
                Auth::App => self.app_token.token().await?,
                Auth::User(token) => token.clone(),
            };
            let mut request = self
                .http
                .request(method.clone(), self.url(path))
                .bearer_auth(token.expose_secret())
                .timeout(self.timeout);
            if let Some(body) = body {
                request = request.json(body);
            }
            let sent = self.metrics.send(Service::Graph, &operation, request).await;
            let error = match sent {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => GraphError::from_response(response).await,
                Err(e) => GraphError::Transport(e.without_url().to_string()),
            };
            // An app token Graph refuses may have been revoked early: fetch a
            // new one once. A person's token is the identity layer's to renew.
            if matches!(error, GraphError::Unauthorized { .. })
                && matches!(auth, Auth::App)
                && !refreshed_app_token
            {
                refreshed_app_token = true;
                self.app_token.invalidate().await;
                self.metrics.retry(Service::Graph, &operation);
                continue;
            }
            if !error.is_transient() {
                return Err(error);
            }
            let Some(wait) = self.retry.next_wait(&mut backoff, error.retry_after()) else {
                return Err(error);
            };
            tracing::debug!(%method, path, wait_ms = wait.as_millis() as u64, "retrying Graph call");
            self.metrics.retry(Service::Graph, &operation);
            tokio::time::sleep(wait).await;
        }
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, GraphError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode(e.to_string()))
}
