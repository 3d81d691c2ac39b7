//! Activations a crash interrupted. `activate` records `requesting` before
//! it calls PIM (so the group's join notification reads as this
//! activation); a process killed before PIM's answer leaves the row so, and
//! the person who clicked Activate — after a step-up sign-in, with their
//! prompt already turned into a sign-in card — was told it would complete by
//! itself. At start-up each such activation is finished: confirmed if PIM
//! has it, made again as the requester if it was asked for a moment ago,
//! else reported as not done.

use chrono::{Duration, Utc};

use super::text;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::Message;
use crate::engine::jobs::Job;
use crate::engine::view::Snapshot;
use crate::engine::{Engine, EngineError};
use crate::graph::pim;
use crate::store::ActivationState;
use crate::store::activations::InterruptedActivation;
use stagegate_domain::ids::{ObjectId, RequestId};

/// How long after the click an interrupted activation is still made for the
/// requester without asking again.
const RESUME_WITHIN: Duration = Duration::minutes(15);

impl Engine {
    /// Start-up: finishes activations a previous process was killed in the
    /// middle of (see the module's doc). Returns how many it found.
    pub async fn recover_activations(&self) -> Result<usize, EngineError> {
        let started = Utc::now();
        let interrupted = self
            .ctx
            .store
            .activations_requesting_before(started)
            .await?;
        for activation in &interrupted {
            if let Err(e) = self.recover_activation(activation).await {
                tracing::warn!(request = %activation.request_id, error = %e, "cannot finish an interrupted activation");
            }
        }
        Ok(interrupted.len())
    }

    async fn recover_activation(
        &self,
        activation: &InterruptedActivation,
    ) -> Result<(), EngineError> {
        let (request, requester, group) = (
            activation.request_id,
            activation.requester,
            activation.group_id,
        );
        let attempt = activation.since.timestamp_millis();
        let landed = pim::assignment_instances(&self.ctx.graph, &requester, &group)
            .await?
            .iter()
            .any(|i| i.assignment_type.as_deref() != Some("assigned"));
        let snapshot = self.snapshot(&request).await?;
        let fresh = Utc::now() - activation.since < RESUME_WITHIN;
        let who = if fresh && !landed {
            self.identity_with_token(&requester).await?
        } else {
            None
        };
        let message = match (&snapshot, who) {
            (Some(snapshot), _) if landed => {
                self.confirm_activation(snapshot, &requester, &format!("restart-{attempt}"))
                    .await?
            }
            (_, Some(who)) => {
                tracing::info!(%request, "making an activation a restart interrupted");
                self.activate(&who, &request, &activation.duration)
                    .await?
                    .into_message()
            }
            _ => {
                self.activation_not_done(activation, &request, &requester, snapshot.as_ref())
                    .await?
            }
        };
        self.queue(
            &request,
            &[(
                format!("activation-recovered:{request}:{attempt}"),
                Job::ToPerson {
                    person: requester,
                    message,
                },
            )],
        )
        .await
    }

    /// The requester's chat identity the bot holds a token for.
    async fn identity_with_token(
        &self,
        person: &ObjectId,
    ) -> Result<Option<ChatIdentity>, EngineError> {
        for who in self.ctx.store.identities_of(person).await? {
            if self.token_of(&who).await?.is_some() {
                return Ok(Some(who));
            }
        }
        Ok(None)
    }

    /// Records the activation as not done and offers a fresh prompt (the
    /// one clicked may have become a sign-in card); the message to send.
    async fn activation_not_done(
        &self,
        activation: &InterruptedActivation,
        request: &RequestId,
        requester: &ObjectId,
        snapshot: Option<&Snapshot>,
    ) -> Result<Message, EngineError> {
        self.ctx
            .store
            .upsert_activation(
                request,
                requester,
                &activation.group_id,
                "",
                ActivationState::Interrupted,
                None,
                None,
                Utc::now(),
            )
            .await?;
        if let Some(snapshot) = snapshot
            && let Some(prompt) = self.activation_prompt(snapshot, request, requester).await?
        {
            let key = format!(
                "activate:{request}:again:{}",
                activation.since.timestamp_millis()
            );
            self.queue(request, &[(key, prompt)]).await?;
        }
        Ok(text(format!(
            "Your activation for request {} was interrupted (stagegate restarted) and did not happen; activate again when you need it.",
            activation.request_id
        )))
    }
}
