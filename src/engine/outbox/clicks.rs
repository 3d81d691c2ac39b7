//! A click's outcome shown on the card clicked. It goes through the outbox
//! like every other update, so the card has one writer: rewritten from
//! what was last sent to it only after the request's own updates (a
//! decided stage's retirement) have gone out, since rewriting it from an
//! older version would put live buttons back over a decided card.

use chrono::{DateTime, Duration, Utc};

use super::{Failure, Outcome};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{Message, MessageRef, Recipient};
use crate::engine::jobs::Job;
use crate::engine::{Engine, EngineError};
use stagegate_domain::ids::RequestId;

/// How long a click's card waits for the updates the click caused.
const CLICK_SETTLES_WITHIN: Duration = Duration::seconds(60);

impl Engine {
    /// Queues the outcome of `who`'s click(s) on the card at `at`. A click
    /// on a card whose rewrite is still waiting only replaces the outcome
    /// it will show: every rewrite costs one operation of the
    /// conversation's platform budget, and a person clicking a card again
    /// and again while its updates queue must not spend that budget.
    pub async fn queue_click_outcome(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
        at: &MessageRef,
        note: String,
    ) -> Result<(), EngineError> {
        let family = format!("click:{}:", at.0);
        let job = Job::ClickOutcome {
            request: *request,
            identity: who.clone(),
            at: at.clone(),
            note,
            clicked_at: Utc::now(),
        };
        let key = format!("{family}{}", uuid::Uuid::new_v4());
        let Some(row) = super::new_job(&key, &job) else {
            return Ok(());
        };
        // Queued apart from the request (under no request) so that waiting
        // for the request's updates never waits for itself.
        self.ctx
            .store
            .enqueue_or_replace(None, &family, &row, Utc::now())
            .await?;
        self.delivery.wake.notify_one();
        Ok(())
    }

    pub(super) async fn click_outcome(
        &self,
        request: &RequestId,
        who: &ChatIdentity,
        at: &MessageRef,
        note: &str,
        clicked_at: DateTime<Utc>,
    ) -> Result<Outcome, Failure> {
        let port = self.port_for(&who.platform)?;
        if self.ctx.store.outbox_unfinished_for(request).await? > 0 {
            if Utc::now() - clicked_at < CLICK_SETTLES_WITHIN {
                return Err(Failure::NotYet(
                    "the request's updates are still going out".into(),
                ));
            }
            // Still queued behind the platform's limits: leave the card to
            // those updates and say the outcome in the chat instead.
            let to = Recipient::Person {
                identity: who.clone(),
            };
            let message = Message::Text {
                text: note.to_owned(),
            };
            port.post(&to, &message).await.map_err(Failure::Chat)?;
            return Ok(Outcome::Done(Some(
                "said in chat: card still updating".into(),
            )));
        }
        port.update_with_notice(at, note)
            .await
            .map_err(Failure::Chat)?;
        Ok(Outcome::Done(None))
    }
}
