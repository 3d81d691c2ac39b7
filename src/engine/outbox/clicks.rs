//! A click's outcome shown on the card clicked. It goes through the outbox
//! like every other update, so the card has one writer: rewritten from
//! what was last sent to it only after the request's own updates (a
//! decided stage's retirement) have gone out, and never while the card as
//! sent still asks for a decision — the clicker's own view of it (their
//! click's answer) has no buttons, and a rewrite would put them back.

use chrono::{DateTime, Duration, Utc};

use super::{Failure, Outcome};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{Message, MessageRef, Recipient};
use crate::engine::jobs::Job;
use crate::engine::{Engine, EngineError};
use stagegate_domain::ids::RequestId;

/// How long a click's card waits for the updates the click caused.
const CLICK_SETTLES_WITHIN: Duration = Duration::seconds(60);

/// A click whose outcome the clicked card is to show.
pub(super) struct Click<'a> {
    pub request: &'a RequestId,
    pub who: &'a ChatIdentity,
    pub at: &'a MessageRef,
    pub note: &'a str,
    pub clicked_at: DateTime<Utc>,
    /// The click's answer carried the note already.
    pub answered: bool,
}

impl Engine {
    /// Queues the outcome of `who`'s click(s) on the card at `at`; with
    /// `answered`, the click's answer already showed `note` to them. A
    /// click on a card whose rewrite is still waiting only replaces the
    /// outcome it will show: every rewrite costs one operation of the
    /// conversation's platform budget, and a person clicking a card again
    /// and again while its updates queue must not spend that budget.
    pub async fn queue_click_outcome(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
        at: &MessageRef,
        note: String,
        answered: bool,
    ) -> Result<(), EngineError> {
        let family = format!("click:{}:", at.0);
        let job = Job::ClickOutcome {
            request: *request,
            identity: who.clone(),
            at: at.clone(),
            note,
            clicked_at: Utc::now(),
            answered,
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

    pub(super) async fn click_outcome(&self, click: &Click<'_>) -> Result<Outcome, Failure> {
        let port = self.port_for(&click.who.platform)?;
        let settling = Utc::now() - click.clicked_at < CLICK_SETTLES_WITHIN;
        if self.ctx.store.outbox_unfinished_for(click.request).await? > 0 {
            if settling {
                return Err(Failure::NotYet(
                    "the request's updates are still going out".into(),
                ));
            }
            // Still queued behind the platform's limits: leave the card to
            // those updates and say the outcome in the chat instead.
            return self.say_in_chat(click, "card still updating").await;
        }
        if port
            .update_with_notice(click.at, click.note)
            .await
            .map_err(Failure::Chat)?
        {
            return Ok(Outcome::Done(None));
        }
        // The card still asks for a decision. Only clicks that changed the
        // request queue an outcome, so its stage's retirement is on the way
        // (the bot may not have heard from Graph yet).
        if click.answered {
            return Ok(Outcome::Done(Some(
                "card left as it is: the click's answer showed the outcome".into(),
            )));
        }
        if settling {
            return Err(Failure::NotYet(
                "the clicked card still asks for a decision".into(),
            ));
        }
        self.say_in_chat(click, "card still asks for a decision")
            .await
    }

    /// The outcome as a message to the clicker, who was told their
    /// decision was still being recorded.
    async fn say_in_chat(&self, click: &Click<'_>, why: &str) -> Result<Outcome, Failure> {
        let port = self.port_for(&click.who.platform)?;
        let to = Recipient::Person {
            identity: click.who.clone(),
        };
        let message = Message::Text {
            text: click.note.to_owned(),
        };
        port.post(&to, &message).await.map_err(Failure::Chat)?;
        Ok(Outcome::Done(Some(format!("said in chat: {why}"))))
    }
}
