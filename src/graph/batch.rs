//! JSON batching (`POST /$batch`): several independent Graph calls in one
//! round trip. Graph takes at most 20 requests per batch, so longer lists are
//! sent as several batches. Each sub-response is typed exactly like a direct
//! call's answer (a 429 inside a batch is `Throttled` with its own
//! `Retry-After`); the batch call itself retries like any other call.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Auth, GraphClient, GraphError};

/// "JSON batch requests are currently limited to 20 individual requests."
pub(crate) const MAX_BATCH: usize = 20;

/// One request of a batch; `url` is relative to the service root (`/users/…`).
#[derive(Debug, Clone, Serialize)]
pub struct BatchRequest {
    pub method: String,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl BatchRequest {
    #[must_use]
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            url: url.into(),
            headers: BTreeMap::new(),
            body: None,
        }
    }

    /// A write; Graph refuses a sub-request body without `Content-Type`.
    #[must_use]
    pub fn with_json(method: &str, url: impl Into<String>, body: Value) -> Self {
        Self {
            method: method.to_owned(),
            url: url.into(),
            headers: BTreeMap::from([("Content-Type".into(), "application/json".into())]),
            body: Some(body),
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    requests: Vec<Numbered<'a>>,
}

#[derive(Serialize)]
struct Numbered<'a> {
    id: String,
    #[serde(flatten)]
    request: &'a BatchRequest,
}

#[derive(Deserialize)]
struct Responses {
    responses: Vec<SubResponse>,
}

/// One answer of a batch, as Graph sent it.
#[derive(Debug, Clone, Deserialize)]
pub struct SubResponse {
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub body: Option<Value>,
}

impl SubResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }

    /// The typed body of a 2xx, or the error a direct call would have given.
    pub fn into_result<T: DeserializeOwned>(self) -> Result<T, GraphError> {
        if (200..300).contains(&self.status) {
            return serde_json::from_value(self.body.unwrap_or(Value::Null))
                .map_err(|e| GraphError::Decode(e.to_string()));
        }
        let body = match &self.body {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        Err(GraphError::from_parts(
            self.status,
            self.header("Retry-After"),
            self.header("WWW-Authenticate"),
            &body,
        ))
    }
}

impl GraphClient {
    /// Sends `requests` in as few batches as Graph allows; the answers come
    /// back in the order of `requests`. `Err` only when a whole batch failed.
    pub async fn batch(
        &self,
        auth: Auth<'_>,
        requests: &[BatchRequest],
    ) -> Result<Vec<SubResponse>, GraphError> {
        let mut out = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(MAX_BATCH) {
            let envelope = Envelope {
                requests: chunk
                    .iter()
                    .enumerate()
                    .map(|(i, request)| Numbered {
                        id: (i + 1).to_string(),
                        request,
                    })
                    .collect(),
            };
            let answer: Responses = self.post(auth, "/$batch", &envelope).await?;
            // Graph may answer sub-requests in any order: match them by id.
            let mut by_id: BTreeMap<String, SubResponse> = answer
                .responses
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect();
            for i in 1..=chunk.len() {
                let id = i.to_string();
                let response = by_id.remove(&id).ok_or_else(|| {
                    GraphError::Decode(format!("the batch has no answer for request {id}"))
                })?;
                out.push(response);
            }
        }
        Ok(out)
    }

    /// `GET`s `paths` by batch, each typed like [`GraphClient::get`].
    pub async fn batch_get<T: DeserializeOwned>(
        &self,
        auth: Auth<'_>,
        paths: &[String],
    ) -> Result<Vec<Result<T, GraphError>>, GraphError> {
        let requests: Vec<BatchRequest> = paths.iter().map(BatchRequest::get).collect();
        Ok(self
            .batch(auth, &requests)
            .await?
            .into_iter()
            .map(SubResponse::into_result)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_response_429_is_throttled_with_its_retry_after() {
        let r: SubResponse = serde_json::from_value(json!({
            "id": "1", "status": 429,
            "headers": { "retry-after": "7" },
            "body": { "error": { "code": "TooManyRequests", "message": "slow down" } }
        }))
        .unwrap();
        match r.into_result::<Value>() {
            Err(GraphError::Throttled { retry_after }) => {
                assert_eq!(retry_after, Some(std::time::Duration::from_secs(7)));
            }
            other => panic!("{other:?}"),
        }
    }
}
