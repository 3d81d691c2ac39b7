//! Our own cache of the Bot Framework signing keys: JWKs with the extra
//! `endorsements` property, which generic JWKS clients drop.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;

use super::AuthError;

/// A public key and the channels it may sign for.
pub struct CachedKey {
    pub decoding: DecodingKey,
    pub endorsements: Vec<String>,
}

struct Cache {
    keys: HashMap<String, Arc<CachedKey>>,
    fetched_at: Instant,
}

pub struct KeySet {
    http: reqwest::Client,
    metadata_url: String,
    max_age: Duration,
    unknown_kid_interval: Duration,
    cache: RwLock<Option<Cache>>,
    /// Held while fetching (one fetch at a time); remembers the last fetch
    /// made because of an unknown `kid`.
    refresh: tokio::sync::Mutex<Option<Instant>>,
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

const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

impl KeySet {
    pub fn new(
        http: reqwest::Client,
        metadata_url: &str,
        max_age: Duration,
        unknown_kid_interval: Duration,
    ) -> Self {
        Self {
            http,
            metadata_url: metadata_url.to_owned(),
            max_age,
            unknown_kid_interval,
            cache: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(None),
        }
    }

    /// The key `kid`, fetching the key set when it is missing or older than
    /// `max_age`, and at most once per `unknown_kid_interval` when `kid` is
    /// not in a fresh set (key rotation).
    pub(super) async fn key(&self, kid: &str) -> Result<Arc<CachedKey>, AuthError> {
        if let (true, Some(key)) = self.lookup(kid) {
            return Ok(key);
        }
        let mut last_unknown = self.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        let (fresh, found) = self.lookup(kid);
        if let (true, Some(key)) = (fresh, found) {
            return Ok(key);
        }
        if fresh {
            if last_unknown.is_some_and(|t| t.elapsed() < self.unknown_kid_interval) {
                return Err(AuthError::UnknownKey(kid.to_owned()));
            }
            *last_unknown = Some(Instant::now());
        }
        match self.fetch().await {
            Ok(cache) => {
                *self.cache.write().unwrap_or_else(|p| p.into_inner()) = Some(cache);
            }
            Err(reason) => {
                let has_cache = self
                    .cache
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some();
                if !has_cache {
                    return Err(AuthError::KeysUnavailable(reason));
                }
                // Keep serving the last good set rather than refusing all.
                tracing::warn!(%reason, "cannot refresh the Bot Framework keys; keeping the cached set");
            }
        }
        self.lookup(kid)
            .1
            .ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))
    }

    /// (is the cached set fresh, the key if present).
    fn lookup(&self, kid: &str) -> (bool, Option<Arc<CachedKey>>) {
        let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
        match cache.as_ref() {
            Some(c) => (
                c.fetched_at.elapsed() < self.max_age,
                c.keys.get(kid).cloned(),
            ),
            None => (false, None),
        }
    }

    async fn fetch(&self) -> Result<Cache, String> {
        let metadata: Metadata = self.get_json(&self.metadata_url).await?;
        let jwks: Jwks = self.get_json(&metadata.jwks_uri).await?;
        let mut keys = HashMap::new();
        for jwk in jwks.keys {
            // Non-RSA keys are ignored, as botbuilder's OpenIdMetadata does.
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
        tracing::debug!(keys = keys.len(), "fetched the Bot Framework signing keys");
        Ok(Cache {
            keys,
            fetched_at: Instant::now(),
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response
            .json()
            .await
            .map_err(|e| format!("{url}: {}", e.without_url()))
    }
}
