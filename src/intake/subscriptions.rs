//! Keeps one Graph subscription on `/groups/{id}/members` alive per watched
//! privileged group (docs/architecture.md, "Graph change notifications"),
//! with the app's own token:
//!
//! - created at start (the bot already listens: Graph's handshake calls it),
//!   with `clientState` and a `lifecycleNotificationUrl`, and stored;
//! - renewed (`PATCH expirationDateTime`) `renewal_margin` before it expires,
//!   and at once on `reauthorizationRequired` (a renewal also reauthorizes);
//! - recreated when Graph no longer has it (verified hourly, on
//!   `subscriptionRemoved`, or when a renewal answers 404) and when the
//!   configured `clientState` or public URL changed;
//! - after a gap (recreated, or `missed`) the group's current members are
//!   reported to the engine as present, since changes in the gap were lost.
//!
//! "Now" is the injected [`super::clock::Clock`]; the manager sleeps until the
//! next renewal is due and re-plans when that clock jumps.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::Intake;
use super::worker::{LifecycleEvent, LifecycleNotice};
use crate::graph::{Auth, GraphError};
use crate::store::StoreError;
use crate::store::intake::SubscriptionRow;
use stagegate_domain::ids::ObjectId;

/// Graph's subscriptions are checked for existence at least this often.
const VERIFY_EVERY_MINUTES: i64 = 60;
/// Wait before retrying after Graph or the database failed.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// At most this many pages of members are read when resynchronising.
const MAX_MEMBER_PAGES: usize = 100;

#[derive(Debug, thiserror::Error)]
enum UpkeepError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The part of Graph's `subscription` the manager reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphSubscription {
    id: String,
    expiration_date_time: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct MembersPage {
    value: Vec<DirectoryObject>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DirectoryObject {
    id: String,
}

pub(crate) struct SubscriptionManager {
    intake: Intake,
    lifecycle: mpsc::UnboundedReceiver<LifecycleNotice>,
}

enum Wake {
    Stop,
    Notice(LifecycleNotice),
    Check,
    Other,
}

impl SubscriptionManager {
    pub(crate) fn new(intake: Intake, lifecycle: mpsc::UnboundedReceiver<LifecycleNotice>) -> Self {
        Self { intake, lifecycle }
    }

    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let intake = self.intake.clone();
        let clock = intake.inner.clock.clone();
        let verify_every = chrono::Duration::minutes(VERIFY_EVERY_MINUTES);
        let mut last_verified: Option<DateTime<Utc>> = None;
        loop {
            let now = clock.now();
            let verify = last_verified.is_none_or(|t| now - t >= verify_every);
            let (ok, next_due) = pass(&intake, verify).await;
            if verify && ok {
                last_verified = Some(now);
            }
            let wait = if ok {
                let verify_at = last_verified.unwrap_or(now) + verify_every;
                let next = next_due.map_or(verify_at, |due| due.min(verify_at));
                (next - clock.now()).to_std().unwrap_or(Duration::ZERO)
            } else {
                RETRY_AFTER_FAILURE
            };
            let wake = tokio::select! {
                _ = stop.changed() => Wake::Stop,
                notice = self.lifecycle.recv() => notice.map_or(Wake::Stop, Wake::Notice),
                _ = intake.inner.check_subscriptions.notified() => Wake::Check,
                _ = clock.jumped() => Wake::Other,
                _ = tokio::time::sleep(wait) => Wake::Other,
            };
            match wake {
                Wake::Stop => return,
                Wake::Notice(notice) => {
                    if !on_lifecycle(&intake, notice).await {
                        last_verified = None;
                    }
                }
                Wake::Check => last_verified = None,
                Wake::Other => {}
            }
        }
    }
}

/// One upkeep round over every group: whether all went well, and when the
/// earliest renewal falls due.
async fn pass(intake: &Intake, verify: bool) -> (bool, Option<DateTime<Utc>>) {
    let mut ok = true;
    let mut next: Option<DateTime<Utc>> = None;
    for group in intake.inner.config.groups.clone() {
        match ensure(intake, group, verify).await {
            Ok(due) => next = Some(next.map_or(due, |n| n.min(due))),
            Err(error) => {
                ok = false;
                tracing::warn!(%group, %error, "subscription upkeep failed; retrying");
            }
        }
    }
    (ok, next)
}

/// Makes sure `group` has a live, current subscription; returns when it is
/// next due for renewal.
async fn ensure(
    intake: &Intake,
    group: ObjectId,
    verify: bool,
) -> Result<DateTime<Utc>, UpkeepError> {
    let inner = &intake.inner;
    let config = &inner.config;
    let Some(secret) = config.client_state.as_ref() else {
        return Ok(DateTime::<Utc>::MAX_UTC);
    };
    let stored = inner.store.intake_subscription(&group).await?;
    let (mut row, created) = match stored {
        Some(row)
            if row.client_state_hash == secret.digest_hex()
                && row.notification_url == config.notification_url =>
        {
            (row, false)
        }
        Some(stale) => {
            tracing::info!(%group, "clientState or public URL changed; recreating the subscription");
            delete_remote(intake, &stale.subscription_id).await;
            (create(intake, group, false).await?, true)
        }
        None => (create(intake, group, false).await?, true),
    };
    if verify && !created {
        let path = format!("/subscriptions/{}", row.subscription_id);
        match inner.graph.get::<GraphSubscription>(Auth::App, &path).await {
            Ok(sub) if sub.expiration_date_time != row.expires_at => {
                inner
                    .store
                    .renew_intake_subscription(
                        &row.subscription_id,
                        sub.expiration_date_time,
                        inner.clock.now(),
                    )
                    .await?;
                row.expires_at = sub.expiration_date_time;
            }
            Ok(_) => {}
            Err(GraphError::NotFound { .. }) => {
                tracing::warn!(%group, subscription = %row.subscription_id, "subscription gone from Graph; recreating");
                row = create(intake, group, true).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if inner.clock.now() >= row.expires_at - config.renewal_margin {
        row = renew(intake, group, row).await?;
    }
    Ok(row.expires_at - config.renewal_margin)
}

fn graph_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `POST /subscriptions` for the group's members; stores the result.
async fn create(
    intake: &Intake,
    group: ObjectId,
    resync: bool,
) -> Result<SubscriptionRow, UpkeepError> {
    let inner = &intake.inner;
    let config = &inner.config;
    let Some(secret) = config.client_state.as_ref() else {
        return Err(UpkeepError::Graph(GraphError::InvalidRequest {
            code: "notConfigured".into(),
            message: "intake.client_state is not set".into(),
        }));
    };
    let now = inner.clock.now();
    // User and group subscriptions support `updated` (membership changes)
    // and `deleted`; `created` is refused for them (docs/architecture.md,
    // "Graph change notifications").
    let body = json!({
        "changeType": "updated",
        "notificationUrl": config.notification_url,
        "lifecycleNotificationUrl": config.lifecycle_url,
        "resource": format!("/groups/{group}/members"),
        "expirationDateTime": graph_time(now + config.lifetime),
        "clientState": secret.expose(),
    });
    let sub: GraphSubscription = inner.graph.post(Auth::App, "/subscriptions", &body).await?;
    let row = SubscriptionRow {
        group_id: group.to_string(),
        subscription_id: sub.id,
        expires_at: sub.expiration_date_time,
        client_state_hash: secret.digest_hex(),
        notification_url: config.notification_url.clone(),
    };
    inner.store.put_intake_subscription(&row, now).await?;
    tracing::info!(%group, subscription = %row.subscription_id, expires = %graph_time(row.expires_at), "subscription created");
    if resync {
        resync_members(intake, group).await;
    }
    Ok(row)
}

/// `PATCH /subscriptions/{id}` with a new expiration; recreates on 404.
async fn renew(
    intake: &Intake,
    group: ObjectId,
    mut row: SubscriptionRow,
) -> Result<SubscriptionRow, UpkeepError> {
    let inner = &intake.inner;
    let now = inner.clock.now();
    let body = json!({ "expirationDateTime": graph_time(now + inner.config.lifetime) });
    let path = format!("/subscriptions/{}", row.subscription_id);
    let answer = inner
        .graph
        .send(Auth::App, Method::PATCH, &path, Some(&body))
        .await;
    let sub: GraphSubscription = match answer {
        Ok(response) => decode(response).await?,
        Err(GraphError::NotFound { .. }) => {
            tracing::warn!(%group, subscription = %row.subscription_id, "subscription to renew is gone; recreating");
            return create(intake, group, true).await;
        }
        Err(e) => return Err(e.into()),
    };
    inner
        .store
        .renew_intake_subscription(&row.subscription_id, sub.expiration_date_time, now)
        .await?;
    row.expires_at = sub.expiration_date_time;
    tracing::info!(%group, subscription = %row.subscription_id, expires = %graph_time(row.expires_at), "subscription renewed");
    Ok(row)
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, GraphError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| GraphError::Decode(e.to_string()))
}

/// Best effort: a subscription created with an old secret or URL.
async fn delete_remote(intake: &Intake, subscription_id: &str) {
    let path = format!("/subscriptions/{subscription_id}");
    match intake
        .inner
        .graph
        .send_no_content(Auth::App, Method::DELETE, &path, None::<&()>)
        .await
    {
        Ok(()) | Err(GraphError::NotFound { .. }) => {}
        Err(error) => {
            tracing::warn!(subscription = %subscription_id, %error, "could not delete the old subscription; it expires on its own");
        }
    }
}

/// Reports every current member of `group` as present: after a gap in
/// notifications the engine re-checks who holds the privileged group.
async fn resync_members(intake: &Intake, group: ObjectId) {
    let inner = &intake.inner;
    let base = inner.graph.url("");
    let mut path = format!("/groups/{group}/members?$select=id");
    for _ in 0..MAX_MEMBER_PAGES {
        let page: MembersPage = match inner.graph.get(Auth::App, &path).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%group, %error, "cannot list members to resynchronise");
                return;
            }
        };
        for member in page.value {
            match member.id.parse::<ObjectId>() {
                Ok(member) => inner.sink.membership_changed(group, member, true).await,
                Err(_) => tracing::warn!(%group, "member with a malformed id skipped"),
            }
        }
        match page.next_link {
            Some(link) => match link.strip_prefix(&base) {
                Some(rest) => path = rest.to_owned(),
                None => {
                    tracing::warn!(%group, "nextLink outside the Graph base URL; stopping");
                    return;
                }
            },
            None => return,
        }
    }
    tracing::warn!(%group, "more than {MAX_MEMBER_PAGES} pages of members; stopped");
}

/// Acts on a lifecycle notification; `false` when it could not, so the next
/// pass verifies everything in Graph.
async fn on_lifecycle(intake: &Intake, notice: LifecycleNotice) -> bool {
    let inner = &intake.inner;
    let row = match inner
        .store
        .intake_subscription_by_id(&notice.subscription_id)
        .await
    {
        Ok(Some(row)) => row,
        Ok(None) => {
            tracing::info!(subscription = %notice.subscription_id, event = ?notice.event, "lifecycle notification for a subscription not (or no longer) ours");
            return true;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot look up the subscription of a lifecycle notification");
            return false;
        }
    };
    let Ok(group) = row.group_id.parse::<ObjectId>() else {
        return false;
    };
    tracing::info!(%group, subscription = %notice.subscription_id, event = ?notice.event, "lifecycle notification");
    let result = match notice.event {
        LifecycleEvent::ReauthorizationRequired => renew(intake, group, row).await.map(drop),
        LifecycleEvent::SubscriptionRemoved => create(intake, group, true).await.map(drop),
        LifecycleEvent::Missed => {
            resync_members(intake, group).await;
            Ok(())
        }
    };
    match result {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%group, %error, "lifecycle notification not handled; verifying on the next pass");
            false
        }
    }
}
