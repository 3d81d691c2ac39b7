//! Our own cache of the Bot Framework signing keys (JWKs with the extra
//! `endorsements` property, which generic JWKS clients drop).
//!
//! Only the background refresher ([`super::refresher`]) fetches. A request
//! reads the last good key set; it waits for a fetch only when there is no
//! key set yet or its `kid` is unknown (a key rotation), and then only for
//! a fetch of a source that answered last time: once a fetch has failed,
//! requests are answered at once (known keys accepted, unknown ones
//! refused) until the refresher's backoff succeeds. So an outage of
//! login.botframework.com never queues activities behind outbound calls.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use tokio::sync::watch;
use tokio::time::Instant;

use super::AuthError;

/// A public key and the channels it may sign for.
pub struct CachedKey {
    pub decoding: DecodingKey,
    pub endorsements: Vec<String>,
}

/// A fetched key set, by `kid`.
pub type Keys = HashMap<String, Arc<CachedKey>>;

/// Why a fetch of the key set failed. Names public URLs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("GET {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("GET {url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("GET {url}: unreadable answer: {reason}")]
    Body { url: String, reason: String },
    #[error("the key set at {url} has no usable RSA key")]
    NoUsableKey { url: String },
    #[error("no key set within {0:?}")]
    TimedOut(Duration),
}

/// Why no key set can be consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysUnavailable {
    #[error("fetching them failed ({0}); retrying in the background")]
    Failing(FetchError),
    #[error("a fetch is still in flight")]
    Pending,
    #[error("the key refresher is not running")]
    NotRunning,
}

/// Where the key set comes from (HTTP in production, scripted in tests).
#[async_trait::async_trait]
pub trait KeySource: Send + Sync + 'static {
    async fn fetch(&self) -> Result<Keys, FetchError>;
}

/// When the key set is fetched.
#[derive(Debug, Clone)]
pub struct RefreshRules {
    /// After a successful fetch, the next one is this much later.
    pub interval: Duration,
    /// At most one extra fetch for unknown `kid`s per this interval.
    pub unknown_kid_interval: Duration,
    /// The first retry after a failure; doubled (with jitter) up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Longest one fetch may take, and so longest a request waits for one.
    pub fetch_timeout: Duration,
}

/// What the refresher and the requests share.
#[derive(Default)]
pub(super) struct State {
    /// The last good key set.
    pub(super) keys: Option<Arc<Keys>>,
    /// Why the last fetch failed; `None` once one succeeds.
    pub(super) failure: Option<FetchError>,
    pub(super) in_flight: bool,
    /// A request asks for a fetch now (no key set yet, or an unknown `kid`).
    pub(super) wanted: bool,
    /// Fetches finished (either way), so a waiter knows when "its" ended.
    pub(super) completed: u64,
    last_unknown_kid_fetch: Option<Instant>,
    pub(super) running: bool,
}

enum Miss {
    Found(Arc<CachedKey>),
    Refuse(AuthError),
    /// Wait until more than this many fetches have completed.
    Wait(u64),
}

impl State {
    fn get(&self, kid: &str) -> Option<Arc<CachedKey>> {
        self.keys.as_ref()?.get(kid).cloned()
    }

    /// Decides what a request whose `kid` was not in the set does. Never
    /// waits when the last fetch failed.
    fn on_miss(&mut self, kid: &str, now: Instant, unknown_kid_interval: Duration) -> Miss {
        if let Some(key) = self.get(kid) {
            return Miss::Found(key);
        }
        if !self.running {
            return Miss::Refuse(AuthError::KeysUnavailable(KeysUnavailable::NotRunning));
        }
        if let Some(failure) = &self.failure {
            return Miss::Refuse(self.refusal(kid, Some(failure)));
        }
        // A fetch is under way or already asked for: share it.
        if self.in_flight || self.wanted {
            return Miss::Wait(self.completed);
        }
        if self.keys.is_some() {
            if self
                .last_unknown_kid_fetch
                .is_some_and(|at| now.duration_since(at) < unknown_kid_interval)
            {
                return Miss::Refuse(AuthError::UnknownKey(kid.to_owned()));
            }
            self.last_unknown_kid_fetch = Some(now);
        }
        self.wanted = true;
        Miss::Wait(self.completed)
    }

    /// The key after the awaited fetch, or why there is none.
    fn after_fetch(&self, kid: &str) -> Result<Arc<CachedKey>, AuthError> {
        if let Some(key) = self.get(kid) {
            return Ok(key);
        }
        if !self.running {
            return Err(AuthError::KeysUnavailable(KeysUnavailable::NotRunning));
        }
        Err(self.refusal(kid, self.failure.as_ref()))
    }

    fn refusal(&self, kid: &str, failure: Option<&FetchError>) -> AuthError {
        match (&self.keys, failure) {
            (None, Some(f)) => AuthError::KeysUnavailable(KeysUnavailable::Failing(f.clone())),
            (None, None) => AuthError::KeysUnavailable(KeysUnavailable::Pending),
            (Some(_), Some(f)) => AuthError::UnknownKeyNotRefreshed(kid.to_owned(), f.clone()),
            (Some(_), None) => AuthError::UnknownKey(kid.to_owned()),
        }
    }
}

pub struct KeySet {
    pub(super) source: Box<dyn KeySource>,
    pub(super) rules: RefreshRules,
    pub(super) state: watch::Sender<State>,
}

impl KeySet {
    pub fn new(source: impl KeySource, rules: RefreshRules) -> Self {
        Self {
            source: Box::new(source),
            rules,
            state: watch::Sender::new(State::default()),
        }
    }

    /// The key `kid`. Waits (at most `fetch_timeout`) only for a fetch when
    /// there is no key set yet or `kid` is unknown, the last fetch did not
    /// fail and, for an unknown `kid`, none was made for one recently.
    pub async fn key(&self, kid: &str) -> Result<Arc<CachedKey>, AuthError> {
        if let Some(key) = self.state.borrow().get(kid) {
            return Ok(key);
        }
        let mut changes = self.state.subscribe();
        let mut miss = Miss::Wait(0);
        let now = Instant::now();
        self.state.send_if_modified(|state| {
            miss = state.on_miss(kid, now, self.rules.unknown_kid_interval);
            state.wanted
        });
        let seen = match miss {
            Miss::Found(key) => return Ok(key),
            Miss::Refuse(refusal) => return Err(refusal),
            Miss::Wait(seen) => seen,
        };
        let ended = changes.wait_for(|state| state.completed > seen || !state.running);
        match tokio::time::timeout(self.rules.fetch_timeout, ended).await {
            Ok(Ok(state)) => state.after_fetch(kid),
            // The sender lives in `self`, so only the timeout is possible.
            _ => Err(AuthError::KeysUnavailable(KeysUnavailable::Pending)),
        }
    }
}
