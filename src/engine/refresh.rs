//! What an approval card shows a person now, for a chat client that asks
//! (Teams' `refresh`: an approver opening the chat later, or a card left
//! stale by a crash between a decision and the outbox's rewrite). Read
//! only: nothing is decided, queued or relayed, whoever asks; only a
//! current approver of a stage still open sees its buttons.

use super::jobs::approval_card;
use super::render::outcome;
use super::view::Snapshot;
use super::{Engine, EngineError};
use crate::chat::port::{ApprovalCard, Message};
use stagegate_domain::approval::RequestState;
use stagegate_domain::ids::{ObjectId, RequestId, StageId};
use stagegate_domain::planner::stage_ended;

fn text(text: impl Into<String>) -> Message {
    Message::Text { text: text.into() }
}

impl Engine {
    /// The approval card of stage `stage_id` of `request` as `viewer`
    /// should see it now: the live card while they may still decide it;
    /// the decided card with its outcome (what the outbox puts there) once
    /// the stage is over; a notice without buttons for anyone else.
    pub async fn approval_card_now(
        &self,
        viewer: &ObjectId,
        request: &RequestId,
        stage_id: &StageId,
    ) -> Message {
        match self.card_now(viewer, request, stage_id).await {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(%request, error = %e, "cannot read a request to refresh its card");
                // Never the live buttons when who may decide is unknown.
                text(
                    "I couldn't check this request with Microsoft Entra just now. This card updates when you open the chat again in a minute.",
                )
            }
        }
    }

    async fn card_now(
        &self,
        viewer: &ObjectId,
        request: &RequestId,
        stage_id: &StageId,
    ) -> Result<Message, EngineError> {
        let Some(snapshot) = self.snapshot(request).await? else {
            return Ok(text(
                "I no longer know the request this card is about, so nobody can act on it here.",
            ));
        };
        let view = &snapshot.view;
        let Some((k, stage)) = view.numbered_stages().find(|(_, s)| s.id == *stage_id) else {
            return Ok(text(
                "I can't read this request's approval stages right now, so this card can't be acted on. Try again later, or decide in My Access.",
            ));
        };
        let Some(card) = approval_card(&snapshot, k) else {
            return Ok(text("This approval card is out of date."));
        };
        if !stage.approvers.contains(viewer) || *viewer == view.requester {
            return Ok(not_yours(&card));
        }
        let done = self.ctx.store.done_keys(request).await?;
        if let Some(ended) = stage_ended(view, k, &done) {
            return Ok(Message::ApprovalDecided {
                outcome: outcome(&snapshot, &ended),
                card,
            });
        }
        let current = view.current_stage().map(|(n, _)| n);
        if view.state != RequestState::PendingApproval
            || !stage.is_awaiting_decision()
            || current != Some(k)
        {
            return Ok(Message::ApprovalDecided {
                card,
                outcome: "This stage can't be decided right now.".into(),
            });
        }
        if let Some(recording) = self.decision_in_flight(&snapshot, k).await? {
            return Ok(Message::ApprovalDecided {
                card,
                outcome: recording,
            });
        }
        Ok(Message::ApprovalRequest { card })
    }

    /// A decision recorded for stage `k` that Graph does not show yet
    /// (being relayed): said on the card, so nobody decides twice.
    async fn decision_in_flight(
        &self,
        snapshot: &Snapshot,
        k: u8,
    ) -> Result<Option<String>, EngineError> {
        let Some(decision) = self.ctx.store.live_decision(&snapshot.view.id, k).await? else {
            return Ok(None);
        };
        let by = decision
            .approver
            .parse::<ObjectId>()
            .map_or_else(|_| "another approver".to_owned(), |a| snapshot.name(&a));
        Ok(Some(format!(
            "{by}'s decision is being recorded with Microsoft Entra."
        )))
    }
}

/// The notice someone who is not an approver of the stage sees instead of
/// the buttons.
fn not_yours(card: &ApprovalCard) -> Message {
    text(format!(
        "This approval card (stage {} of {}'s request for {}) is for its approvers. You are not one of them, so you can't act on it.",
        card.stage, card.requester.name, card.package
    ))
}
