//! Everything the emulated Microsoft services push out: Graph change
//! notifications and lifecycle notifications for `/groups/{id}/members`
//! subscriptions, and entitlement-management custom-extension callouts as the
//! Logic App relay delivers them to stagegate.
//!
//! State lives in [`NotifyState`] (one per sandbox, in `SimState::notify`);
//! the [`dispatcher`] task turns `World.events` and the emulated clock into
//! [`delivery::Delivery`]s and sends them. It is woken by [`NotifyState::wake`]
//! (notified whenever a `SimState::world()` guard that appended events is
//! dropped) and by clock advances, and otherwise sleeps exactly until the
//! next retry or lifecycle deadline is due.

pub mod callouts;
pub mod control;
pub mod delivery;
pub mod disorder;
pub mod dispatcher;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use tokio::sync::Notify;

use delivery::Delivery;

/// How long an endpoint has to answer the validation handshake.
pub const VALIDATION_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// How long a notification endpoint has to answer 2xx before Graph retries.
pub const NOTIFICATION_TIMEOUT: StdDuration = StdDuration::from_secs(3);
/// How long the relay's HTTP action waits for stagegate. Logic Apps allows an
/// outbound request up to 120 s; the sandbox uses 30 s so a hung bot does not
/// keep a delivery in flight for minutes.
pub const CALLOUT_TIMEOUT: StdDuration = StdDuration::from_secs(30);

/// Timeouts the sandbox applies; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub validation: StdDuration,
    pub notification: StdDuration,
    pub callout: StdDuration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            validation: VALIDATION_TIMEOUT,
            notification: NOTIFICATION_TIMEOUT,
            callout: CALLOUT_TIMEOUT,
        }
    }
}

/// A Graph `subscription` as the emulator tracks it.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    /// As the caller wrote it (`/groups/{id}/members`).
    pub resource: String,
    pub group_id: String,
    pub change_type: String,
    pub client_state: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub expiration: DateTime<Utc>,
    pub application_id: String,
    /// The signed-in user (delegated) or the app's service principal.
    pub creator_id: String,
    pub delegated: bool,
    pub latest_supported_tls_version: String,
    pub notification_url_app_id: Option<String>,
    /// Index into `World.events` from which changes concern this subscription.
    pub events_from: usize,
    /// `reauthorizationRequired` thresholds (minutes before expiry) already
    /// signalled for the current expiration.
    pub challenges_sent: Vec<i64>,
    pub last_reauthorized: Option<DateTime<Utc>>,
}

impl Subscription {
    pub fn wants_updates(&self) -> bool {
        self.change_type
            .split(',')
            .any(|c| c.trim().eq_ignore_ascii_case("updated"))
    }
}

/// The relay that forwards custom-extension callouts to stagegate.
#[derive(Clone, Default)]
pub struct RelayConfig {
    pub url: Option<String>,
    pub secret: Option<SecretString>,
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Mutable notification state, behind one mutex.
#[derive(Debug, Default)]
pub struct Notifications {
    pub subscriptions: BTreeMap<String, Subscription>,
    pub deliveries: Vec<Delivery>,
    pub relay: RelayConfig,
    /// `customWorkflowExtensions` by id (Graph JSON, as returned).
    pub extensions: BTreeMap<String, callouts::StoredExtension>,
    /// `customExtensionStageSettings` per assignment policy id.
    pub stage_settings: BTreeMap<String, Vec<callouts::StageSetting>>,
    /// `resume` callbacks received, by `customExtensionStageInstanceId`.
    pub callbacks: BTreeMap<String, serde_json::Value>,
    pub timeouts: Timeouts,
}

/// Notification state of one sandbox.
#[derive(Debug)]
pub struct NotifyState {
    inner: Mutex<Notifications>,
    /// Wakes the dispatcher: new events, new deliveries, finished attempts.
    pub wake: Notify,
    pub http: reqwest::Client,
}

impl Default for NotifyState {
    fn default() -> Self {
        Self::new()
    }
}

impl NotifyState {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Notifications::default()),
            wake: Notify::new(),
            // Loopback endpoints only; never follow redirects (Graph does not).
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// Locks the notification state. Never hold it across `.await` or while
    /// the world is locked.
    pub fn lock(&self) -> MutexGuard<'_, Notifications> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn timeouts(&self) -> Timeouts {
        self.lock().timeouts
    }

    pub fn set_timeouts(&self, timeouts: Timeouts) {
        self.lock().timeouts = timeouts;
    }

    /// Points callouts at stagegate's callout endpoint (`None` disables).
    pub fn set_relay(&self, url: Option<String>, secret: Option<SecretString>) {
        self.lock().relay = RelayConfig { url, secret };
        self.wake.notify_one();
    }
}
