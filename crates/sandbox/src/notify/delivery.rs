//! Outbound webhook deliveries (change notifications, lifecycle
//! notifications, custom-extension callouts) and their retry schedules.
//!
//! Every retry is scheduled on the **emulated clock**: `next_attempt_at` is
//! emulated time. The dispatcher sleeps until it is due (the emulated clock
//! runs at wall speed) or wakes early when the clock is advanced, so a test
//! drives a four-hour redelivery schedule with `/sim/clock/advance` instead
//! of waiting, and an interactive sandbox still retries on its own.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::clock::graph_time;

/// How a delivery is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryPolicy {
    /// Graph change notifications: "If Microsoft Graph doesn't receive a 2xx
    /// class code within 3 seconds, it tries to resend the change
    /// notification multiple times, for up to 4 hours" (docs/architecture.md,
    /// "Graph change notifications").
    /// Graph does not publish the intervals; the sandbox uses 1 min doubling,
    /// capped at 1 h, and drops the notification once the next attempt would
    /// fall more than 4 h after the first one.
    Graph,
    /// The Logic App relay's HTTP action with Logic Apps' *Default* retry
    /// policy: "an exponential interval policy that sends up to 4 retries at
    /// exponentially increasing intervals. These intervals scale by 7.5
    /// seconds but are capped between 5 and 45 seconds", retrying on 408, 429
    /// and 5xx (learn.microsoft.com/azure/logic-apps/logic-apps-exception-handling).
    /// The sandbox drops the randomisation: 7.5 s, 15 s, 30 s, 45 s.
    LogicApp,
}

/// Graph gives up on a change notification 4 hours after the first attempt.
pub const GRAPH_REDELIVERY_WINDOW: Duration = Duration::hours(4);
/// Logic Apps' default policy: at most 4 retries after the first attempt.
pub const LOGIC_APP_MAX_RETRIES: usize = 4;

impl RetryPolicy {
    /// Whether a failed attempt with this outcome is worth retrying.
    pub fn retries(self, outcome: &Outcome) -> bool {
        match self {
            Self::Graph => true,
            Self::LogicApp => match outcome.status {
                None => true,
                Some(s) => s == 408 || s == 429 || (500..600).contains(&s),
            },
        }
    }

    /// When to try again after `failures` failed attempts (1 = the first
    /// attempt failed), given when the first attempt was made; `None` once the
    /// policy is exhausted.
    pub fn next_attempt(
        self,
        failures: usize,
        first_attempt: DateTime<Utc>,
        last_attempt: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Self::Graph => {
                let exp = failures.saturating_sub(1).min(6) as u32;
                let wait = Duration::minutes((1i64 << exp).min(60));
                let next = last_attempt + wait;
                (next <= first_attempt + GRAPH_REDELIVERY_WINDOW).then_some(next)
            }
            Self::LogicApp => {
                if failures > LOGIC_APP_MAX_RETRIES {
                    return None;
                }
                let exp = failures.saturating_sub(1).min(8) as u32;
                let millis = (7_500i64 << exp).clamp(5_000, 45_000);
                Some(last_attempt + Duration::milliseconds(millis))
            }
        }
    }
}

/// The result of one HTTP attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// HTTP status, `None` when no response arrived (timeout, refused).
    pub status: Option<u16>,
    /// Why the attempt failed without a response.
    pub error: Option<String>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// Emulated time the attempt started.
    #[serde(serialize_with = "ser_time")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Waiting for its (first or next) attempt.
    Pending,
    /// An attempt is under way.
    InFlight,
    /// A 2xx answer arrived.
    Delivered,
    /// The policy gave up, or the answer was not retryable.
    Failed,
}

/// What a delivery carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum DeliveryKind {
    /// A `changeNotificationCollection` of resource changes.
    ChangeNotification { subscription_ids: Vec<String> },
    /// A lifecycle notification (`reauthorizationRequired`, `subscriptionRemoved`).
    Lifecycle {
        subscription_id: String,
        lifecycle_event: String,
    },
    /// A custom-extension callout relayed to stagegate.
    Callout {
        stage: String,
        access_package_assignment_request_id: String,
        custom_extension_stage_instance_id: String,
    },
}

/// One outbound webhook message and its attempts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    #[serde(flatten)]
    pub kind: DeliveryKind,
    pub url: String,
    pub policy: RetryPolicy,
    pub status: DeliveryStatus,
    #[serde(serialize_with = "ser_time")]
    pub created: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_time")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub attempts: Vec<Attempt>,
    pub body: Value,
    /// Set when fault injection made this delivery a duplicate or held it
    /// back (see [`super::disorder`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected: Option<super::disorder::Injected>,
}

impl Delivery {
    pub fn new(
        kind: DeliveryKind,
        url: String,
        body: Value,
        policy: RetryPolicy,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            url,
            policy,
            status: DeliveryStatus::Pending,
            created: now,
            next_attempt_at: Some(now),
            attempts: Vec::new(),
            body,
            injected: None,
        }
    }

    /// Due for an attempt at emulated time `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == DeliveryStatus::Pending && self.next_attempt_at.is_some_and(|t| t <= now)
    }

    /// Records an attempt's result and schedules the next one if the policy
    /// allows.
    pub fn record(&mut self, attempt: Attempt) {
        let outcome = attempt.outcome.clone();
        let at = attempt.at;
        self.attempts.push(attempt);
        if outcome.succeeded() {
            self.status = DeliveryStatus::Delivered;
            self.next_attempt_at = None;
            return;
        }
        let first = self.attempts.first().map_or(at, |a| a.at);
        let next = self
            .policy
            .retries(&outcome)
            .then(|| self.policy.next_attempt(self.attempts.len(), first, at))
            .flatten();
        match next {
            Some(t) => {
                self.status = DeliveryStatus::Pending;
                self.next_attempt_at = Some(t);
            }
            None => {
                self.status = DeliveryStatus::Failed;
                self.next_attempt_at = None;
            }
        }
    }
}

fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&graph_time(*t))
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&graph_time(*t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(status: Option<u16>) -> Outcome {
        Outcome {
            status,
            error: status.is_none().then(|| "timed out".into()),
        }
    }

    #[test]
    fn graph_redelivers_with_backoff_for_four_hours_then_gives_up() {
        let t0 = Utc::now();
        let mut d = Delivery::new(
            DeliveryKind::ChangeNotification {
                subscription_ids: vec![],
            },
            "http://127.0.0.1/".into(),
            Value::Null,
            RetryPolicy::Graph,
            t0,
        );
        let mut at = t0;
        let mut waits = Vec::new();
        while d.status != DeliveryStatus::Failed {
            d.record(Attempt {
                at,
                outcome: failed(Some(500)),
                elapsed_ms: 1,
            });
            if let Some(next) = d.next_attempt_at {
                waits.push((next - at).num_minutes());
                at = next;
            }
        }
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert!(at - t0 <= GRAPH_REDELIVERY_WINDOW);
    }

    #[test]
    fn logic_app_retries_four_times_on_transient_errors_only() {
        let t0 = Utc::now();
        let policy = RetryPolicy::LogicApp;
        let waits: Vec<i64> = (1..=4)
            .map(|n| (policy.next_attempt(n, t0, t0).unwrap() - t0).num_milliseconds())
            .collect();
        assert_eq!(waits, vec![7_500, 15_000, 30_000, 45_000]);
        assert!(policy.next_attempt(5, t0, t0).is_none());
        assert!(policy.retries(&failed(Some(503))));
        assert!(policy.retries(&failed(Some(429))));
        assert!(policy.retries(&failed(None)));
        assert!(!policy.retries(&failed(Some(401))));
    }
}
