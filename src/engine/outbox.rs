//! The outbox worker: claims due jobs, sends them through the right chat
//! port, records message refs, retries transient failures with backoff,
//! applies per-destination rate limits and honours `RateLimited`. Jobs are
//! leased, so a crashed worker's jobs are re-claimed when the lease ends;
//! refs recorded per identity keep a retry from posting twice.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::Notify;

use super::jobs::Job;
use super::{Engine, EngineError};
use crate::chat::port::{ChatError, Message, MessageRef};
use crate::config::EngineSettings;
use crate::store::{DeliveryStatus, StoreError};
use stagegate_domain::ids::ObjectId;

mod attempts;
mod cards;
mod clicks;
mod in_flight;
mod queue;
mod reach;
mod security;
mod worker;
use crate::chat::identity::ChatIdentity;
use crate::store::outbox::OutboxRow;
use in_flight::Delivering;
use queue::new_job;

/// The delivery workflow's own state.
pub(super) struct Delivery {
    /// Wakes the outbox worker when jobs are queued.
    pub(super) wake: Notify,
    /// Signalled whenever the worker finishes a job.
    pub(super) progress: Notify,
    /// Ids of the outbox jobs this process is delivering right now.
    pub(super) delivering: std::sync::Mutex<HashSet<i64>>,
    /// `None` (the default): only the platforms' own limits apply.
    pub(super) destinations: Option<DefaultKeyedRateLimiter<String>>,
    /// Who each platform recently could not find by Entra identity.
    pub(super) not_found: reach::NotFound,
    /// What the bot knows of the security channels.
    pub(super) security: security::SecurityChannels,
}

impl Delivery {
    pub(super) fn new(settings: &EngineSettings) -> Self {
        let per_second = NonZeroU32::new(settings.messages_per_second_per_destination);
        Self {
            wake: Notify::new(),
            progress: Notify::new(),
            delivering: std::sync::Mutex::default(),
            not_found: reach::NotFound::default(),
            security: security::SecurityChannels::default(),
            destinations: per_second.map(|n| {
                DefaultKeyedRateLimiter::keyed(
                    Quota::per_second(n)
                        .allow_burst(n.saturating_mul(NonZeroU32::MIN.saturating_add(4))),
                )
            }),
        }
    }
}

/// What became of one attempt.
pub(super) enum Outcome {
    Done(Option<String>),
    /// Wait without counting an attempt (rate limits, ordering).
    Defer {
        after: Duration,
        why: String,
    },
    Retry {
        after: Duration,
        error: String,
    },
    Failed(String),
}

type Refs = Vec<(ChatIdentity, MessageRef)>;

fn refs_of(row: &OutboxRow) -> Refs {
    row.message_ref
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default()
}

/// How long a job waits in line for a platform-wide limit (a Slack
/// method's workspace budget) before it goes back to the queue until then.
const QUEUE_PATIENCE: StdDuration = StdDuration::from_secs(3);
impl Engine {
    /// Delivers one claimed job and records the outcome, renewing the
    /// job's lease while it waits or sends.
    async fn handle(&self, row: OutboxRow) -> Result<(), EngineError> {
        let Some(_delivering) = Delivering::enter(&self.delivery.delivering, row.id) else {
            return Ok(());
        };
        let lease = Duration::seconds(self.ctx.settings.outbox_lease_seconds.max(1));
        let delivery = crate::chat::port::QUEUE_PATIENCE.scope(QUEUE_PATIENCE, async {
            match serde_json::from_str::<Job>(&row.job) {
                Ok(job) => self.deliver(&row, &job).await,
                Err(e) => Outcome::Failed(format!("unreadable job: {e}")),
            }
        });
        tokio::pin!(delivery);
        let every = lease.to_std().unwrap_or(StdDuration::from_secs(1)) / 3;
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let outcome = loop {
            tokio::select! {
                outcome = &mut delivery => break outcome,
                _ = renew.tick() => {
                    if let Err(e) = self.ctx.store.renew_outbox_lease(row.id, Utc::now() + lease).await {
                        tracing::warn!(error = %e, key = %row.key, "outbox lease not renewed");
                    }
                }
            }
        };
        let now = Utc::now();
        match outcome {
            Outcome::Done(note) => {
                self.ctx
                    .store
                    .finish_outbox(row.id, DeliveryStatus::Sent, note.as_deref(), now)
                    .await?;
            }
            Outcome::Defer { after, why } => {
                self.ctx
                    .store
                    .defer_outbox(row.id, now + after, &why, now)
                    .await?;
            }
            Outcome::Retry { after, error }
                if row.attempts < self.ctx.settings.outbox_max_attempts =>
            {
                self.ctx
                    .store
                    .retry_outbox(row.id, now + after, &error, now)
                    .await?;
            }
            Outcome::Retry { error, .. } | Outcome::Failed(error) => {
                tracing::error!(key = %row.key, %error, "outbox job given up");
                self.security_alert_given_up(&row.job, &error);
                self.ctx
                    .store
                    .finish_outbox(row.id, DeliveryStatus::Failed, Some(&error), now)
                    .await?;
            }
        }
        self.delivery.progress.notify_waiters();
        Ok(())
    }

    fn backoff(attempts: i64) -> Duration {
        let exp = attempts.clamp(1, 8) as u32;
        Duration::milliseconds(100 * 2_i64.pow(exp)).min(Duration::seconds(60))
    }

    async fn deliver(&self, row: &OutboxRow, job: &Job) -> Outcome {
        // An optional cap of our own on top of the platforms' limits (which
        // the chat clients keep). Waiting here is a sleep until the slot,
        // never a claim-defer-claim loop through the database.
        if let Some(destinations) = &self.delivery.destinations {
            destinations.until_key_ready(&job.destination()).await;
        }
        let result = match job {
            Job::PostCard {
                request,
                stage,
                approver,
                card,
            } => {
                self.deliver_card(row, request, *stage, approver, card)
                    .await
            }
            Job::RetireCards {
                request,
                stage,
                outcome,
                ..
            } => self.retire_cards(request, *stage, outcome).await,
            Job::ToPerson { person, message } => self.to_person(row, person, message).await,
            Job::ToIdentity { identity, message } => {
                self.post_to(row, std::slice::from_ref(identity), message)
                    .await
            }
            Job::UpdateOf { key, message } => self.update_of(key, message).await,
            Job::ClickOutcome {
                request,
                identity,
                at,
                note,
                clicked_at,
                answered,
            } => {
                let click = clicks::Click {
                    request,
                    who: identity,
                    at,
                    note,
                    clicked_at: *clicked_at,
                    answered: *answered,
                };
                self.click_outcome(&click).await
            }
            Job::Security { message, channel } => self.to_security(message, channel.as_ref()).await,
        };
        match result {
            Ok(outcome) => outcome,
            Err(Failure::Chat(ChatError::RateLimited { retry_after })) => Outcome::Defer {
                after: Duration::from_std(retry_after).unwrap_or(Duration::seconds(1)),
                why: "rate limited by the platform".into(),
            },
            Err(Failure::Chat(ChatError::Transient(e) | ChatError::Unanswered(e))) => {
                Outcome::Retry {
                    after: Self::backoff(row.attempts),
                    error: e,
                }
            }
            Err(Failure::Chat(e)) => Outcome::Failed(e.to_string()),
            Err(Failure::Store(e)) => Outcome::Retry {
                after: Self::backoff(row.attempts),
                error: e.to_string(),
            },
            // Waiting on another job is not a failed attempt: a retirement
            // waits as long as its stage's cards take, and is never given up.
            Err(Failure::NotYet(why)) => Outcome::Defer {
                after: Duration::milliseconds(100),
                why,
            },
            Err(Failure::Settling(after)) => Outcome::Defer {
                after,
                why: "an earlier post's answer was lost; waiting before looking for it".into(),
            },
        }
    }

    fn port_for(&self, platform: &str) -> Result<&Arc<dyn crate::chat::port::ChatPort>, Failure> {
        self.ctx.ports.get(platform).ok_or_else(|| {
            Failure::Chat(ChatError::Permanent(format!(
                "no chat adapter for platform `{platform}`"
            )))
        })
    }

    /// Posts to each identity not yet posted to, recording refs as it goes.
    async fn post_to(
        &self,
        row: &OutboxRow,
        identities: &[ChatIdentity],
        message: &Message,
    ) -> Result<Outcome, Failure> {
        let mut refs = refs_of(row);
        let mut attempts = attempts::PostAttempts::of(row);
        let mut unreachable = Vec::new();
        for who in identities {
            if refs.iter().any(|(i, _)| i == who) {
                continue;
            }
            match self.post_once(row, &mut attempts, who, message).await {
                Ok(r) => {
                    refs.push((who.clone(), r));
                    let json = serde_json::to_string(&refs).unwrap_or_default();
                    self.ctx.store.set_outbox_refs(row.id, &json).await?;
                }
                Err(Failure::Chat(ChatError::Unreachable { reason, .. })) => {
                    unreachable.push(reason);
                }
                Err(e) => return Err(e),
            }
        }
        if refs.is_empty() {
            return Err(Failure::Chat(ChatError::Unreachable {
                platform: identities
                    .first()
                    .and_then(|i| i.platform.parse().ok())
                    .unwrap_or(stagegate_domain::chat_ids::Platform::Teams),
                reason: unreachable.join("; "),
            }));
        }
        Ok(Outcome::Done(None))
    }

    async fn to_person(
        &self,
        row: &OutboxRow,
        person: &ObjectId,
        message: &Message,
    ) -> Result<Outcome, Failure> {
        let reach = self.reach(person).await?;
        let identities = reach.identities;
        if identities.is_empty()
            && let Some(failure) = reach.pending
        {
            return Err(failure);
        }
        if identities.is_empty() {
            let why = if reach.unreachable.is_empty() {
                "no chat identity".to_owned()
            } else {
                reach.unreachable.join("; ")
            };
            tracing::warn!(%person, key = %row.key, reason = %why, "person not reachable in chat; message not delivered");
            self.ctx.metrics.unreachable("person");
            return Ok(Outcome::Done(Some(format!("unreachable: {why}"))));
        }
        let posted = match self.post_to(row, &identities, message).await {
            Err(Failure::Chat(ChatError::Unreachable { reason, .. })) => {
                self.ctx.metrics.unreachable("person");
                Ok(Outcome::Done(Some(format!("unreachable: {reason}"))))
            }
            other => other,
        };
        match (posted, reach.pending) {
            // Delivered where it could be: retried for the platform that
            // could not answer yet (refs keep the rest from repeating).
            (Ok(_), Some(failure)) => Err(failure),
            (posted, _) => posted,
        }
    }

    async fn update_of(&self, key: &str, message: &Message) -> Result<Outcome, Failure> {
        let Some((status, refs)) = self.ctx.store.outbox_by_key(key).await? else {
            return Ok(Outcome::Done(Some("nothing to update".into())));
        };
        if status.is_unfinished() {
            return Err(Failure::NotYet(format!("`{key}` not delivered yet")));
        }
        let refs: Refs = refs
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        for (who, at) in refs {
            self.port_for(&who.platform)?
                .update(&at, message)
                .await
                .map_err(Failure::Chat)?;
        }
        Ok(Outcome::Done(None))
    }
}

pub(super) enum Failure {
    Chat(ChatError),
    Store(StoreError),
    NotYet(String),
    /// A post whose answer was lost may still land for this long.
    Settling(Duration),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}
