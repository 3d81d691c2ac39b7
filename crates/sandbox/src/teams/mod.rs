//! Emulated Microsoft Teams: the Bot Framework OpenID metadata and signing
//! keys (`/botframework/v1/.well-known/…`), the Bot Connector service the bot
//! calls (`/teams/v3/…`, so the serviceUrl is `{sim}/teams/`), and a driver
//! API (`/sim/teams/…`) that plays each persona's Teams client.
//!
//! Shapes and rules follow docs/architecture.md ("Teams authentication",
//! "Teams activities and cards", "Teams rate limits"), the v3 connector
//! swagger (bundled next to this file) and the Teams docs examples.

pub mod connector;
pub mod driver;
pub mod metadata;
pub mod ratelimit;
pub mod schema;
pub mod store;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::keys::SigningKey;

/// The channel id Teams puts on every activity, and the endorsement its
/// signing keys carry.
pub const CHANNEL_ID: &str = "msteams";
/// Issuer of the tokens the Bot Connector puts on activities it sends.
pub const CHANNEL_ISSUER: &str = "https://api.botframework.com";
/// Teams runs a card's `refresh` automatically for at most this many
/// listed users (`refresh.userIds`), and with `userIds` omitted only in
/// chats of at most this many members.
pub const MAX_REFRESH_USERS: usize = 60;
/// Audience of the bot's own tokens for calling the connector.
pub const CONNECTOR_AUDIENCE: &str = "https://api.botframework.com";

/// A key published in the Bot Framework JWKS, with its `endorsements`.
#[derive(Debug)]
pub struct PublishedKey {
    pub key: SigningKey,
    pub endorsements: Vec<String>,
}

/// An error the next connector call(s) will answer with instead of serving
/// (Teams' 412/429/5xx and friends; docs/architecture.md, "Teams activities
/// and cards").
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub code: String,
    /// `Retry-After` in seconds; `None` sends no header.
    pub retry_after: Option<u64>,
}

/// Counters tests and the console read through `GET /sim/teams`.
#[derive(Debug, Default)]
pub struct Stats {
    pub metadata_fetches: AtomicU64,
    pub key_fetches: AtomicU64,
    pub connector_calls: AtomicU64,
    pub throttled: AtomicU64,
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything the Teams emulator keeps; one per sandbox, inside `SimState`.
pub struct TeamsSim {
    keys: Mutex<Vec<Arc<PublishedKey>>>,
    bot_endpoint: Mutex<Option<String>>,
    store: Mutex<store::TeamsStore>,
    limits: Mutex<ratelimit::Limits>,
    faults: Mutex<VecDeque<Fault>>,
    pub stats: Stats,
    /// For delivering activities to the bot.
    http: reqwest::Client,
}

impl std::fmt::Debug for TeamsSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsSim").finish_non_exhaustive()
    }
}

impl Default for TeamsSim {
    fn default() -> Self {
        Self::new()
    }
}

impl TeamsSim {
    pub fn new() -> Self {
        Self {
            keys: Mutex::new(Vec::new()),
            bot_endpoint: Mutex::new(None),
            store: Mutex::new(store::TeamsStore::default()),
            limits: Mutex::new(ratelimit::Limits::default()),
            faults: Mutex::new(VecDeque::new()),
            stats: Stats::default(),
            http: reqwest::Client::builder()
                .timeout(driver::BOT_TIMEOUT)
                .build()
                .unwrap_or_default(),
        }
    }

    /// The key the connector signs activities with now.
    pub fn current_key(&self) -> Arc<PublishedKey> {
        let keys = self.keys();
        Arc::clone(keys.last().expect("at least one published key"))
    }

    pub fn published_keys(&self) -> Vec<Arc<PublishedKey>> {
        self.keys().clone()
    }

    /// The published keys; the first (endorsed for `msteams`) is generated
    /// on first use, since most sandboxes never talk Teams and RSA key
    /// generation is slow.
    fn keys(&self) -> MutexGuard<'_, Vec<Arc<PublishedKey>>> {
        let mut keys = lock(&self.keys);
        if keys.is_empty() {
            keys.push(Arc::new(PublishedKey {
                key: SigningKey::generate(new_kid()),
                endorsements: vec![CHANNEL_ID.into()],
            }));
        }
        keys
    }

    /// Publishes a new key (key rotation, or a key with other endorsements).
    /// With `make_current`, activities are signed with it from now on.
    pub fn publish_key(&self, endorsements: &[&str], make_current: bool) -> Arc<PublishedKey> {
        let key = Arc::new(PublishedKey {
            key: SigningKey::generate(new_kid()),
            endorsements: endorsements.iter().map(|e| (*e).to_owned()).collect(),
        });
        let mut keys = self.keys();
        if make_current {
            keys.push(Arc::clone(&key));
        } else {
            keys.insert(0, Arc::clone(&key));
        }
        key
    }

    pub fn bot_endpoint(&self) -> Option<String> {
        lock(&self.bot_endpoint).clone()
    }

    pub fn set_bot_endpoint(&self, endpoint: Option<String>) {
        *lock(&self.bot_endpoint) = endpoint;
    }

    pub fn store(&self) -> MutexGuard<'_, store::TeamsStore> {
        lock(&self.store)
    }

    fn limits(&self) -> MutexGuard<'_, ratelimit::Limits> {
        lock(&self.limits)
    }

    /// Queues `count` copies of `fault` for the next connector calls.
    pub fn inject_faults(&self, fault: Fault, count: usize) {
        let mut faults = lock(&self.faults);
        faults.extend(std::iter::repeat_n(fault, count));
    }

    fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn new_kid() -> String {
    format!("bf-{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// The bot's id in Teams: `28:<MicrosoftAppId>` (docs/architecture.md,
/// "Teams activities and cards").
pub fn bot_id(app_id: &str) -> String {
    format!("28:{app_id}")
}

/// A persona's Teams user id. Real ids are opaque `29:` strings "unique to
/// your bot ID and a particular user" (docs/architecture.md, "Teams
/// activities and cards"), so derive one from both, stable across sandbox
/// restarts.
pub fn teams_user_id(app_id: &str, aad_object_id: &str) -> String {
    let digest = Sha256::digest(format!("{app_id}|{aad_object_id}").as_bytes());
    format!("29:1{}", URL_SAFE_NO_PAD.encode(digest))
}

/// The personal (1:1) conversation id of a persona with the bot. Teams has
/// exactly one per (bot, user), so it is derived too (`a:…` as in the docs).
pub fn personal_conversation_id(app_id: &str, aad_object_id: &str) -> String {
    let digest = Sha256::digest(format!("personal|{app_id}|{aad_object_id}").as_bytes());
    format!("a:1{}", URL_SAFE_NO_PAD.encode(digest))
}
