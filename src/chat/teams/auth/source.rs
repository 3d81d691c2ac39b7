//! The Bot Framework key set over HTTP: the OpenID metadata document names
//! the JWKS, whose RSA keys (with their `endorsements`) are the set.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::keys::{CachedKey, FetchError, KeySource, Keys};

pub(super) struct HttpKeySource {
    http: reqwest::Client,
    metadata_url: String,
}

impl HttpKeySource {
    pub(super) fn new(http: reqwest::Client, metadata_url: &str) -> Self {
        Self {
            http,
            metadata_url: metadata_url.to_owned(),
        }
    }
}

#[derive(Deserialize)]
struct Metadata {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    kty: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    endorsements: Vec<String>,
}

#[async_trait::async_trait]
impl KeySource for HttpKeySource {
    async fn fetch(&self) -> Result<Keys, FetchError> {
        let metadata: Metadata = self.get_json(&self.metadata_url).await?;
        let jwks: Jwks = self.get_json(&metadata.jwks_uri).await?;
        let keys = usable_keys(jwks);
        // An empty set would refuse every activity: keep the last good one.
        if keys.is_empty() {
            return Err(FetchError::NoUsableKey {
                url: metadata.jwks_uri,
            });
        }
        tracing::debug!(keys = keys.len(), "fetched the Bot Framework signing keys");
        Ok(keys)
    }
}

/// The RSA keys of a JWKS. Others are ignored, as botbuilder's
/// OpenIdMetadata does.
fn usable_keys(jwks: Jwks) -> Keys {
    let mut keys = HashMap::new();
    for jwk in jwks.keys {
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        if jwk.kty.as_deref().is_some_and(|k| k != "RSA") {
            continue;
        }
        let Ok(decoding) = DecodingKey::from_rsa_components(&n, &e) else {
            continue;
        };
        let key = CachedKey {
            decoding,
            endorsements: jwk.endorsements,
        };
        keys.insert(kid, Arc::new(key));
    }
    keys
}

impl HttpKeySource {
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| FetchError::Unreachable {
                url: url.to_owned(),
                reason: e.without_url().to_string(),
            })?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        response.json().await.map_err(|e| FetchError::Body {
            url: url.to_owned(),
            reason: e.without_url().to_string(),
        })
    }
}
