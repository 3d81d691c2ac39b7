//! `[intake]`: Graph change notifications, callouts and the poller.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::serde_fns::{expose_opt_secret, list_or_csv};

/// The three intakes (Graph change notifications, custom-extension callouts
/// via the Logic App relay, the reconciling poller). Each endpoint is off
/// until its secret is set; limits are checked when the bot starts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeSettings {
    /// `clientState` of stagegate's Graph subscriptions, checked on every
    /// change notification; 32 to 128 characters. Unset: no subscriptions
    /// and `/api/graph/notifications` answers 404.
    #[serde(serialize_with = "expose_opt_secret")]
    pub client_state: Option<SecretString>,
    /// Shared secret the Logic App relay sends in `X-Stagegate-Relay-Secret`;
    /// at least 32 characters. Unset: `/api/graph/callouts` answers 404.
    #[serde(serialize_with = "expose_opt_secret")]
    pub callout_secret: Option<SecretString>,
    /// Object ids of the privileged (PIM-managed) groups whose membership is
    /// watched with a `/groups/{id}/members` subscription each. A string is
    /// read as a comma-separated list (for the environment variable).
    #[serde(deserialize_with = "list_or_csv")]
    pub privileged_groups: Vec<String>,
    /// Seconds between two reconciles of every open request (the poller).
    pub poll_interval_seconds: u64,
    /// Largest accepted request body on the intake endpoints (bytes).
    pub body_limit_bytes: usize,
    /// Lifetime asked for each subscription, in minutes (Graph allows at
    /// most 41,760 for groups).
    pub subscription_lifetime_minutes: i64,
    /// Renew a subscription this many minutes before it expires.
    pub renewal_margin_minutes: i64,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            client_state: None,
            callout_secret: None,
            privileged_groups: Vec::new(),
            poll_interval_seconds: 60,
            body_limit_bytes: 256 * 1024,
            subscription_lifetime_minutes: 4_320,
            renewal_margin_minutes: 1_440,
        }
    }
}
