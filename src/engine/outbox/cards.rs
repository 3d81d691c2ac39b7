//! Delivering approval cards (at most one per request, stage, approver and
//! platform), retiring them, and reporting approvers chat cannot reach.

use chrono::Utc;

use super::attempts::PostAttempts;
use super::{Failure, Outcome};
use crate::chat::port::{ApprovalCard, ChatError, Message, MessageRef};
use crate::engine::Engine;
use crate::engine::jobs::Job;
use crate::store::outbox::OutboxRow;
use crate::store::{CardState, StoreError};
use stagegate_domain::ids::{ObjectId, RequestId};

impl Engine {
    pub(super) async fn deliver_card(
        &self,
        row: &OutboxRow,
        request: &RequestId,
        stage: u8,
        approver: &ObjectId,
        card: &ApprovalCard,
    ) -> Result<Outcome, Failure> {
        // A stage already retired needs no new card; but a card posted by
        // an attempt that never heard back is found, so the retirement
        // (which waits for this job) updates it.
        let over = self
            .ctx
            .store
            .outbox_by_key(&format!("retire:{request}:{stage}"))
            .await?
            .is_some();
        let reach = self.reach(approver).await?;
        let identities = reach.identities;
        let pending = reach.pending;
        let existing = self.ctx.store.cards_of(request, stage).await?;
        let mut attempts = PostAttempts::of(row);
        let mut posted = false;
        let mut unreachable = reach.unreachable;
        let message = Message::ApprovalRequest { card: card.clone() };
        for who in &identities {
            if existing
                .iter()
                .any(|c| c.approver == *approver && c.platform == who.platform)
            {
                posted = true;
                continue;
            }
            let at = if over {
                match self.landed_unrecorded(row, &attempts, who).await? {
                    Some(at) => at,
                    None => continue,
                }
            } else {
                match self.post_once(row, &mut attempts, who, &message).await {
                    Ok(at) => at,
                    Err(Failure::Chat(ChatError::Unreachable { reason, .. })) => {
                        unreachable.push(reason);
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            posted = true;
            let json = serde_json::to_string(card).unwrap_or_default();
            match self
                .ctx
                .store
                .insert_card(request, stage, approver, who, &at.0, &json, Utc::now())
                .await
            {
                Ok(()) => self.count_first_card(request).await,
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if over {
            return Ok(Outcome::Done(Some("stage already over".into())));
        }
        if let Some(failure) = pending {
            return Err(failure);
        }
        if posted {
            return Ok(Outcome::Done(None));
        }
        self.report_unreachable(card, approver, &unreachable.join("; "))
            .await?;
        Ok(Outcome::Done(Some("approver unreachable".into())))
    }

    /// Tells the requester and the security channel that an approver
    /// cannot be asked in chat (never a silent skip).
    async fn report_unreachable(
        &self,
        card: &ApprovalCard,
        approver: &ObjectId,
        reason: &str,
    ) -> Result<(), Failure> {
        self.ctx.metrics.unreachable("approver");
        let name = self.display_name(approver).await;
        let r = card.request;
        let k = card.stage;
        let text = format!(
            "I can't reach {name} in chat to ask for stage {k} of request {r}; they can still decide in My Access."
        );
        let jobs = [
            (
                format!("unreachable:{r}:{k}:{approver}"),
                Job::ToPerson {
                    person: card.requester.id,
                    message: Message::Text { text: text.clone() },
                },
            ),
            (
                format!("alert:{r}:unreachable:{k}:{approver}"),
                Job::Security {
                    channel: None,
                    message: Message::SecurityAlert {
                        title: "Approver unreachable in chat".into(),
                        lines: vec![
                            format!("Request: {r}"),
                            format!("Stage: {k}"),
                            format!("Approver: {name} ({approver})"),
                            format!(
                                "Reason: {}",
                                if reason.is_empty() {
                                    "no chat identity on file"
                                } else {
                                    reason
                                }
                            ),
                        ],
                    },
                },
            ),
        ];
        let rows = self.rows(&jobs);
        self.ctx.store.enqueue(Some(&r), &rows, Utc::now()).await?;
        Ok(())
    }

    /// The delay from the bot first recording a request to its first card
    /// (counted once: only the request's first card row counts).
    async fn count_first_card(&self, request: &RequestId) {
        match self.ctx.store.first_card_of(request).await {
            Ok(Some(at)) => self
                .ctx
                .metrics
                .first_card((Utc::now() - at).to_std().unwrap_or_default()),
            Ok(None) => {}
            Err(e) => tracing::debug!(%request, error = %e, "first-card delay not counted"),
        }
    }

    pub(crate) async fn display_name(&self, id: &ObjectId) -> String {
        match crate::graph::directory::user(&self.ctx.graph, id).await {
            Ok(Some(u)) => u.display_name.unwrap_or_else(|| id.to_string()),
            _ => id.to_string(),
        }
    }

    pub(super) async fn retire_cards(
        &self,
        request: &RequestId,
        stage: u8,
        outcome: &str,
    ) -> Result<Outcome, Failure> {
        if self
            .ctx
            .store
            .outbox_unfinished_with_prefix(&format!("card:{request}:{stage}:"))
            .await?
        {
            return Err(Failure::NotYet(
                "cards of the stage are still being posted".into(),
            ));
        }
        for card in self.ctx.store.cards_of(request, stage).await? {
            if card.state == CardState::Retired {
                continue;
            }
            let content: ApprovalCard = serde_json::from_str(&card.card)
                .map_err(|e| Failure::Chat(ChatError::Permanent(e.to_string())))?;
            let port = self.port_for(&card.platform)?;
            let message = Message::ApprovalDecided {
                card: content,
                outcome: outcome.to_owned(),
            };
            port.update(&MessageRef(card.message_ref.clone()), &message)
                .await
                .map_err(Failure::Chat)?;
            self.ctx
                .store
                .retire_card(request, stage, &card.approver, &card.platform, Utc::now())
                .await?;
        }
        Ok(Outcome::Done(None))
    }
}
