//! Posts whose answer never came back. A job writes down each post before
//! sending it; if the bot is killed (or the connection drops) after the
//! platform took the post but before the bot recorded its reference, the
//! next attempt finds that note and looks for the post, by the job's key it
//! was marked with, instead of posting a second card — or, when the stage
//! is over by then, so the retirement can update the card nobody recorded.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::Failure;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatError, EarlierPost, Message, MessageRef, Recipient};
use crate::engine::Engine;
use crate::store::outbox::OutboxRow;

/// How far before the first attempt a found post may be dated: the
/// platform's clock is not ours.
const CLOCK_SKEW: Duration = Duration::minutes(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Attempt {
    to: ChatIdentity,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

/// The posts one job has sent without learning their reference, as kept on
/// its outbox row.
#[derive(Debug, Clone, Default)]
pub(super) struct PostAttempts {
    list: Vec<Attempt>,
}

impl PostAttempts {
    pub(super) fn of(row: &OutboxRow) -> Self {
        let list = row
            .post_attempts
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        Self { list }
    }

    fn get(&self, who: &ChatIdentity) -> Option<&Attempt> {
        self.list.iter().find(|a| a.to == *who)
    }

    fn note(&mut self, who: &ChatIdentity, now: DateTime<Utc>) {
        match self.list.iter_mut().find(|a| a.to == *who) {
            Some(a) => a.last = now,
            None => self.list.push(Attempt {
                to: who.clone(),
                first: now,
                last: now,
            }),
        }
    }

    fn json(&self) -> String {
        serde_json::to_string(&self.list).unwrap_or_else(|_| "[]".into())
    }
}

impl Engine {
    /// Posts `message` to `who` for the job `row` — unless an earlier
    /// attempt of the job landed unrecorded, whose reference is returned.
    /// Where the platform cannot look (Teams), nothing is noted and the
    /// message is posted again: a possible second card rather than a
    /// possibly missing one.
    pub(super) async fn post_once(
        &self,
        row: &OutboxRow,
        attempts: &mut PostAttempts,
        who: &ChatIdentity,
        message: &Message,
    ) -> Result<MessageRef, Failure> {
        let port = self.port_for(&who.platform)?;
        let to = Recipient::Person {
            identity: who.clone(),
        };
        if !port.finds_tagged_posts() {
            return port.post(&to, message).await.map_err(Failure::Chat);
        }
        if let EarlierPost::Found(at) = self.earlier_post(row, attempts, who).await? {
            return Ok(at);
        }
        let before = attempts.clone();
        attempts.note(who, Utc::now());
        self.ctx
            .store
            .set_outbox_post_attempts(row.id, &attempts.json())
            .await?;
        match port.post_tagged(&to, message, &row.key).await {
            Ok(at) => Ok(at),
            Err(e @ ChatError::Unanswered(_)) => Err(Failure::Chat(e)),
            // Refused, before or by the platform: nothing landed.
            Err(e) => {
                *attempts = before;
                self.ctx
                    .store
                    .set_outbox_post_attempts(row.id, &attempts.json())
                    .await?;
                Err(Failure::Chat(e))
            }
        }
    }

    /// An earlier post of the job to `who` that landed unrecorded, if the
    /// platform can find one (for a stage already over: so its retirement
    /// updates it).
    pub(super) async fn landed_unrecorded(
        &self,
        row: &OutboxRow,
        attempts: &PostAttempts,
        who: &ChatIdentity,
    ) -> Result<Option<MessageRef>, Failure> {
        Ok(match self.earlier_post(row, attempts, who).await? {
            EarlierPost::Found(at) => Some(at),
            EarlierPost::NotFound | EarlierPost::CannotTell => None,
        })
    }

    async fn earlier_post(
        &self,
        row: &OutboxRow,
        attempts: &PostAttempts,
        who: &ChatIdentity,
    ) -> Result<EarlierPost, Failure> {
        let Some(attempt) = attempts.get(who) else {
            return Ok(EarlierPost::NotFound);
        };
        // A post whose answer was lost may still be landing; look once it
        // has had time to.
        let settled =
            attempt.last + Duration::seconds(self.ctx.settings.outbox_settle_seconds.max(0));
        let now = Utc::now();
        if now < settled {
            return Err(Failure::Settling(settled - now));
        }
        let to = Recipient::Person {
            identity: who.clone(),
        };
        let found = self
            .port_for(&who.platform)?
            .find_tagged(&to, &row.key, attempt.first - CLOCK_SKEW)
            .await
            .map_err(Failure::Chat)?;
        match &found {
            EarlierPost::Found(_) => {
                tracing::info!(key = %row.key, to = %who, "found a post sent without its answer reaching the bot; not posting again");
            }
            EarlierPost::NotFound => {}
            EarlierPost::CannotTell => {
                tracing::warn!(key = %row.key, to = %who, "a post may have been sent without its answer reaching the bot, and the platform cannot say; posting again");
            }
        }
        Ok(found)
    }
}
