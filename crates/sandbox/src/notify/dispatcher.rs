//! The background task that turns tenant events and the emulated clock into
//! webhook deliveries, and sends them.
//!
//! Each pass: read `World.events` past its own cursor (the vector is never
//! drained; other consumers read it too), queue change notifications and
//! callouts, expire subscriptions and send lifecycle notifications, then start
//! every delivery that is due. Between passes it waits for the first of: the
//! `wake` notification, a clock advance, or the next due time.

use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::callouts::{self, RELAY_SECRET_HEADER};
use super::delivery::{Attempt, Delivery, DeliveryKind, DeliveryStatus, Outcome, RetryPolicy};
use super::disorder;
use super::{Notifications, Subscription};
use crate::SimState;
use crate::clock::graph_time;
use crate::world::SimEvent;

/// Minutes before expiry at which `reauthorizationRequired` is sent. Graph
/// says only that it challenges "when a subscription is about to expire" and
/// that the frequency may change; its illustrative schedule tightens from
/// hours to every 15 minutes, so the sandbox challenges at 3 h, 1 h and 15 min.
pub const REAUTHORIZATION_THRESHOLDS: [i64; 3] = [180, 60, 15];

/// Starts the dispatcher; abort the handle to stop it.
pub fn spawn(state: SimState) -> JoinHandle<()> {
    tokio::spawn(run(state))
}

async fn run(state: SimState) {
    let mut clock = state.clock.subscribe();
    let mut cursor = 0usize;
    loop {
        let next_due = pass(&state, &mut cursor);
        let wait = next_due
            .map(|t| {
                (t - state.clock.now())
                    .to_std()
                    .unwrap_or(StdDuration::ZERO)
            })
            .unwrap_or(StdDuration::from_secs(3600));
        tokio::select! {
            _ = state.notify.wake.notified() => {}
            changed = clock.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One dispatcher pass; returns when the next thing falls due.
fn pass(state: &SimState, cursor: &mut usize) -> Option<DateTime<Utc>> {
    let now = state.clock.now();
    let (settings, extensions, relay_url) = {
        let n = state.notify.lock();
        (
            n.stage_settings.clone(),
            n.extensions.clone(),
            n.relay.url.clone(),
        )
    };
    let (events, callout_deliveries, tenant_id) = {
        let world = state.world();
        let start = (*cursor).min(world.events.len());
        let events: Vec<(usize, SimEvent)> = world.events[start..]
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, e)| (start + i, e))
            .collect();
        *cursor = world.events.len();
        let callouts = match &relay_url {
            Some(url) => {
                let plain: Vec<SimEvent> = events.iter().map(|(_, e)| e.clone()).collect();
                callouts::build(&world, &plain, &settings, &extensions, url, now)
            }
            None => Vec::new(),
        };
        (events, callouts, world.tenant_id.clone())
    };

    let (jobs, next_due) = {
        let mut n = state.notify.lock();
        let notifications = change_notifications(&n, &events, &tenant_id, now);
        disorder::queue(&state.faults, &mut n, callout_deliveries, now);
        disorder::queue(&state.faults, &mut n, notifications, now);
        run_subscription_lifecycle(&mut n, &tenant_id, now);
        start_due(&mut n, now)
    };
    for job in jobs {
        tokio::spawn(attempt(state.clone(), job));
    }
    next_due
}

/// One `changeNotificationCollection` per notification URL for the
/// membership changes in `events`.
fn change_notifications(
    n: &Notifications,
    events: &[(usize, SimEvent)],
    tenant_id: &str,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    let mut by_url: BTreeMap<String, (Vec<String>, Vec<Value>)> = BTreeMap::new();
    for (index, event) in events {
        let (group_id, member_id, removed) = match event {
            SimEvent::MemberAdded {
                group_id,
                member_id,
            } => (group_id, member_id, false),
            SimEvent::MemberRemoved {
                group_id,
                member_id,
            } => (group_id, member_id, true),
            _ => continue,
        };
        for sub in n.subscriptions.values() {
            if &sub.group_id != group_id || *index < sub.events_from || !sub.wants_updates() {
                continue;
            }
            let entry = by_url.entry(sub.notification_url.clone()).or_default();
            if !entry.0.contains(&sub.id) {
                entry.0.push(sub.id.clone());
            }
            entry
                .1
                .push(member_notification(sub, tenant_id, member_id, removed));
        }
    }
    by_url
        .into_iter()
        .map(|(url, (subscription_ids, value))| {
            Delivery::new(
                DeliveryKind::ChangeNotification { subscription_ids },
                url,
                json!({ "value": value }),
                RetryPolicy::Graph,
                now,
            )
        })
        .collect()
}

/// A group-membership `changeNotification`, in the shape Graph delivers for
/// `/groups/{id}/members`: an opaque `id` (as in Graph's documented example;
/// a redelivery repeats the notification, id included), `resource` `Groups/{id}`, `resourceData` of type
/// `#Microsoft.Graph.Group` whose `members@delta` lists the changed member —
/// `{"id"}` when added, `{"id", "@removed": "deleted"}` when removed. Graph's
/// docs show only the generic shape; the members form is as captured from
/// live tenants (delta queries use `"@removed": {"reason": …}` instead).
fn member_notification(
    sub: &Subscription,
    tenant_id: &str,
    member_id: &str,
    removed: bool,
) -> Value {
    let member = if removed {
        json!({ "id": member_id, "@removed": "deleted" })
    } else {
        json!({ "id": member_id })
    };
    json!({
        "id": uuid::Uuid::new_v4().simple().to_string(),
        "changeType": "updated",
        "clientState": sub.client_state,
        "resource": format!("Groups/{}", sub.group_id),
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Group",
            "@odata.id": format!("Groups/{}", sub.group_id),
            "id": sub.group_id,
            "organizationId": tenant_id,
            "members@delta": [member],
        },
        "subscriptionExpirationDateTime": graph_time(sub.expiration),
        "subscriptionId": sub.id,
        "tenantId": tenant_id,
    })
}

fn lifecycle_notification(
    sub: &Subscription,
    tenant_id: &str,
    event: &str,
    now: DateTime<Utc>,
) -> Delivery {
    let body = json!({
        "value": [{
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": graph_time(sub.expiration),
            "tenantId": tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }]
    });
    Delivery::new(
        DeliveryKind::Lifecycle {
            subscription_id: sub.id.clone(),
            lifecycle_event: event.to_owned(),
        },
        sub.lifecycle_notification_url.clone().unwrap_or_default(),
        body,
        RetryPolicy::Graph,
        now,
    )
}

/// Removes expired subscriptions (`subscriptionRemoved`) and challenges the
/// ones close to expiry (`reauthorizationRequired`).
fn run_subscription_lifecycle(n: &mut Notifications, tenant_id: &str, now: DateTime<Utc>) {
    let expired: Vec<String> = n
        .subscriptions
        .values()
        .filter(|s| s.expiration <= now)
        .map(|s| s.id.clone())
        .collect();
    for id in expired {
        if let Some(sub) = n.subscriptions.remove(&id)
            && sub.lifecycle_notification_url.is_some()
        {
            let removed = lifecycle_notification(&sub, tenant_id, "subscriptionRemoved", now);
            n.deliveries.push(removed);
        }
    }
    let mut challenges = Vec::new();
    for sub in n.subscriptions.values_mut() {
        if sub.lifecycle_notification_url.is_none() {
            continue;
        }
        let crossed: Vec<i64> = REAUTHORIZATION_THRESHOLDS
            .iter()
            .copied()
            .filter(|t| sub.expiration - Duration::minutes(*t) <= now)
            .filter(|t| !sub.challenges_sent.contains(t))
            .collect();
        if crossed.is_empty() {
            continue;
        }
        sub.challenges_sent.extend(crossed);
        challenges.push(lifecycle_notification(
            sub,
            tenant_id,
            "reauthorizationRequired",
            now,
        ));
    }
    n.deliveries.extend(challenges);
}

/// Marks due deliveries in flight and returns them with the next due time.
fn start_due(n: &mut Notifications, now: DateTime<Utc>) -> (Vec<Job>, Option<DateTime<Utc>>) {
    let timeouts = n.timeouts;
    let secret = n.relay.secret.clone();
    let mut jobs = Vec::new();
    for d in n.deliveries.iter_mut().filter(|d| d.is_due(now)) {
        d.status = DeliveryStatus::InFlight;
        let callout = matches!(d.kind, DeliveryKind::Callout { .. });
        jobs.push(Job {
            delivery_id: d.id.clone(),
            url: d.url.clone(),
            body: serde_json::to_vec(&d.body).unwrap_or_default(),
            timeout: if callout {
                timeouts.callout
            } else {
                timeouts.notification
            },
            secret: if callout { secret.clone() } else { None },
        });
    }
    let mut next: Option<DateTime<Utc>> = n
        .deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .filter_map(|d| d.next_attempt_at)
        .min();
    for sub in n.subscriptions.values() {
        let mut candidates = vec![sub.expiration];
        if sub.lifecycle_notification_url.is_some() {
            candidates.extend(
                REAUTHORIZATION_THRESHOLDS
                    .iter()
                    .filter(|t| !sub.challenges_sent.contains(t))
                    .map(|t| sub.expiration - Duration::minutes(*t)),
            );
        }
        for c in candidates {
            next = Some(next.map_or(c, |n| n.min(c)));
        }
    }
    (jobs, next)
}

struct Job {
    delivery_id: String,
    url: String,
    body: Vec<u8>,
    timeout: StdDuration,
    secret: Option<SecretString>,
}

async fn attempt(state: SimState, job: Job) {
    let at = state.clock.now();
    let started = Instant::now();
    let mut request = state
        .notify
        .http
        .post(&job.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .timeout(job.timeout)
        .body(job.body);
    if let Some(secret) = &job.secret {
        request = request.header(RELAY_SECRET_HEADER, secret.expose_secret());
    }
    let outcome = match request.send().await {
        Ok(response) => Outcome {
            status: Some(response.status().as_u16()),
            error: None,
        },
        Err(e) => Outcome {
            status: None,
            error: Some(describe(&e, job.timeout)),
        },
    };
    let record = Attempt {
        at,
        outcome,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    {
        let now = state.clock.now();
        let mut n = state.notify.lock();
        if let Some(d) = n.deliveries.iter_mut().find(|d| d.id == job.delivery_id) {
            d.record(record);
        }
        disorder::after_attempt(&mut n, &job.delivery_id, now);
    }
    state.notify.wake.notify_one();
}

/// A transport failure, without the URL (it may carry a caller's query).
fn describe(error: &reqwest::Error, timeout: StdDuration) -> String {
    if error.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}
