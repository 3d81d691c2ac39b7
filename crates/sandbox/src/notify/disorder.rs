//! Duplicated and reordered deliveries: what the real services are allowed
//! to do and the bot must survive.
//!
//! - Graph "tries to resend the change notification multiple times, for up
//!   to 4 hours" when it got no 2xx within 3 s (docs/architecture.md,
//!   "Graph change notifications"), and a subscription gets "at least one"
//!   `changeNotificationCollection` per change; nothing in the protocol
//!   orders deliveries.
//! - The Logic App relay's HTTP action retries on timeouts (Logic Apps'
//!   default policy), and Entra's own call to the Logic App may be retried
//!   (`maximumRetries` 0 or 1; docs/architecture.md, "Entitlement management
//!   custom extensions"): the bot can get the same callout twice, and a slow
//!   relay run can land after a later one.
//!
//! A **duplicate** is the same body (same `subscriptionId`, `resource`,
//! `clientState`, `id` when Graph sets one; for callouts the same
//! `customExtensionStageInstanceId`) delivered again some time after the
//! original's first attempt, as a redelivery would be. A **reordered**
//! delivery is held back until the next delivery to the same endpoint has
//! had its attempt (or until its hold time runs out), so it arrives after a
//! later one. Both are decided by `/sim/faults` rules for the services
//! `notifications` and `callouts` ([`crate::faults`]).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::Notifications;
use super::delivery::{Delivery, DeliveryKind, DeliveryStatus};
use crate::faults::FaultInjector;

/// Why a delivery exists or waits: set by fault injection only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "fault",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Injected {
    /// A second delivery of delivery `of`'s body, sent `after_ms` after the
    /// original's first attempt finished.
    Duplicate {
        of: String,
        after_ms: i64,
        rule_id: u64,
    },
    /// Held back behind the next delivery to the same endpoint; `released`
    /// once that one had its attempt (false: it went when the hold ran out).
    HeldBack { rule_id: u64, released: bool },
}

/// The fault service a delivery belongs to (lifecycle notifications are
/// never disordered).
pub fn service_of(kind: &DeliveryKind) -> Option<&'static str> {
    match kind {
        DeliveryKind::ChangeNotification { .. } => Some("notifications"),
        DeliveryKind::Callout { .. } => Some("callouts"),
        DeliveryKind::Lifecycle { .. } => None,
    }
}

/// The path the rules match: the first subscription's resource for change
/// notifications, `/{stage}` for callouts.
fn path_of(n: &Notifications, kind: &DeliveryKind) -> String {
    match kind {
        DeliveryKind::ChangeNotification { subscription_ids } => subscription_ids
            .first()
            .and_then(|id| n.subscriptions.get(id))
            .map(|s| format!("/{}", s.resource.trim_start_matches('/')))
            .unwrap_or_else(|| "/".into()),
        DeliveryKind::Callout { stage, .. } => format!("/{stage}"),
        DeliveryKind::Lifecycle { .. } => "/".into(),
    }
}

/// Two deliveries are ordered relative to each other when they are of the
/// same service and go to the same URL.
fn same_lane(a: &Delivery, b: &Delivery) -> bool {
    service_of(&a.kind).is_some() && service_of(&a.kind) == service_of(&b.kind) && a.url == b.url
}

/// Held back and not yet sent.
fn waiting_held(d: &Delivery) -> bool {
    matches!(
        d.injected,
        Some(Injected::HeldBack {
            released: false,
            ..
        })
    ) && d.attempts.is_empty()
        && d.status == DeliveryStatus::Pending
}

/// Queues `fresh` deliveries, duplicating or holding back those the rules
/// pick.
pub fn queue(
    faults: &FaultInjector,
    n: &mut Notifications,
    fresh: Vec<Delivery>,
    now: DateTime<Utc>,
) {
    for mut delivery in fresh {
        let Some(service) = service_of(&delivery.kind) else {
            n.deliveries.push(delivery);
            continue;
        };
        let path = path_of(n, &delivery.kind);
        let may_hold = !n
            .deliveries
            .iter()
            .any(|d| waiting_held(d) && same_lane(d, &delivery));
        let verdict = faults.disorder(service, &path, may_hold);
        if let Some((rule_id, hold)) = verdict.hold {
            delivery.injected = Some(Injected::HeldBack {
                rule_id,
                released: false,
            });
            delivery.next_attempt_at = Some(now + to_chrono(hold));
        }
        let twin = verdict.duplicate.map(|(rule_id, after)| {
            let mut twin = delivery.clone();
            twin.id = uuid::Uuid::new_v4().to_string();
            twin.injected = Some(Injected::Duplicate {
                of: delivery.id.clone(),
                after_ms: to_chrono(after).num_milliseconds(),
                rule_id,
            });
            // Not due until the original's first attempt has finished.
            twin.next_attempt_at = None;
            twin
        });
        n.deliveries.push(delivery);
        n.deliveries.extend(twin);
    }
}

/// After delivery `id` had an attempt at emulated `now`: schedules its
/// duplicates (after its first attempt) and releases the deliveries held
/// back behind it. Returns whether anything became due.
pub fn after_attempt(n: &mut Notifications, id: &str, now: DateTime<Utc>) -> bool {
    let Some(pos) = n.deliveries.iter().position(|d| d.id == id) else {
        return false;
    };
    let this = n.deliveries[pos].clone();
    let mut changed = false;
    if this.attempts.len() == 1 {
        for twin in n.deliveries.iter_mut() {
            if let Some(Injected::Duplicate { of, after_ms, .. }) = &twin.injected
                && of == id
                && twin.next_attempt_at.is_none()
                && twin.status == DeliveryStatus::Pending
            {
                twin.next_attempt_at = Some(now + Duration::milliseconds(*after_ms));
                changed = true;
            }
        }
    }
    if this.injected.is_none() {
        for held in n.deliveries[..pos].iter_mut() {
            if waiting_held(held) && same_lane(held, &this) {
                if let Some(Injected::HeldBack { released, .. }) = &mut held.injected {
                    *released = true;
                }
                held.next_attempt_at = Some(now);
                changed = true;
            }
        }
    }
    changed
}

fn to_chrono(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::zero())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::faults::RuleSpec;
    use crate::notify::delivery::{Attempt, Outcome, RetryPolicy};

    fn callout(stage: &str, now: DateTime<Utc>) -> Delivery {
        Delivery::new(
            DeliveryKind::Callout {
                stage: stage.into(),
                access_package_assignment_request_id: "r".into(),
                custom_extension_stage_instance_id: stage.into(),
            },
            "http://127.0.0.1:1/api/graph/callouts".into(),
            json!({ "stage": stage }),
            RetryPolicy::LogicApp,
            now,
        )
    }

    fn rule(duplicate: bool, delay_ms: u64) -> RuleSpec {
        RuleSpec {
            service: "callouts".into(),
            path: "/".into(),
            method: None,
            status: None,
            retry_after: None,
            delay_ms: Some(delay_ms),
            count: None,
            probability: None,
            reset: false,
            duplicate,
            reorder: !duplicate,
        }
    }

    fn attempted(n: &mut Notifications, id: &str, at: DateTime<Utc>) -> bool {
        let d = n.deliveries.iter_mut().find(|d| d.id == id).unwrap();
        d.status = DeliveryStatus::InFlight;
        d.record(Attempt {
            at,
            outcome: Outcome {
                status: Some(202),
                error: None,
            },
            elapsed_ms: 1,
        });
        after_attempt(n, id, at)
    }

    #[test]
    fn a_duplicate_follows_the_first_attempt_with_the_same_body() {
        let faults = FaultInjector::default();
        faults.add(rule(true, 3_000)).unwrap();
        let mut n = Notifications::default();
        let t0 = Utc::now();
        queue(
            &faults,
            &mut n,
            vec![callout("assignmentRequestCreated", t0)],
            t0,
        );
        assert_eq!(n.deliveries.len(), 2);
        let (original, twin) = (n.deliveries[0].clone(), n.deliveries[1].clone());
        assert_eq!(twin.body, original.body);
        assert_eq!(twin.kind, original.kind);
        assert!(
            !twin.is_due(t0 + Duration::hours(1)),
            "waits for the original"
        );
        assert!(attempted(&mut n, &original.id, t0));
        let twin = &n.deliveries[1];
        assert_eq!(twin.next_attempt_at, Some(t0 + Duration::seconds(3)));
    }

    #[test]
    fn a_held_delivery_goes_after_the_next_one_or_when_its_hold_ends() {
        let faults = FaultInjector::default();
        faults.add(rule(false, 10_000)).unwrap();
        let mut n = Notifications::default();
        let t0 = Utc::now();
        let first = callout("assignmentRequestCreated", t0);
        let second = callout("assignmentRequestApproved", t0);
        let (a, b) = (first.id.clone(), second.id.clone());
        queue(&faults, &mut n, vec![first, second], t0);
        // Only one is held at a time: the second is the one it waits for.
        assert!(!n.deliveries[0].is_due(t0));
        assert!(n.deliveries[1].is_due(t0));
        assert_eq!(n.deliveries[1].injected, None);
        assert!(attempted(&mut n, &b, t0));
        assert!(n.deliveries[0].is_due(t0), "released behind {b}");
        assert!(matches!(
            n.deliveries[0].injected,
            Some(Injected::HeldBack { released: true, .. })
        ));
        assert!(!attempted(&mut n, &a, t0));

        // Alone, a held delivery still goes once its hold runs out.
        let third = callout("assignmentRequestGranted", t0);
        queue(&faults, &mut n, vec![third], t0);
        let held = &n.deliveries[2];
        assert!(!held.is_due(t0 + Duration::seconds(9)));
        assert!(held.is_due(t0 + Duration::seconds(10)));
    }
}
