//! Extension of an assignment about to expire: a new request, made as the
//! requester, that goes through approval again.

use super::Acted;
use super::guard::{Guard, Guarded};
use super::resume::Resume;
use super::{Engine, EngineError};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{CardAction, Message};
use crate::graph::{GraphError, em};
use stagegate_domain::ids::RequestId;

fn text(text: impl Into<String>) -> Message {
    Message::Text { text: text.into() }
}

impl Engine {
    /// Extension of an assignment about to expire: a `userUpdate` request
    /// by the requester, with the original ticket and justification.
    pub(super) async fn extend(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
    ) -> Result<Acted, EngineError> {
        let resume = Resume::Action {
            action: CardAction::Extend { request: *request },
            justification: None,
        };
        let guard = Guard {
            sign_in: "Sign in so I can ask for the extension as you.",
            resume: Some(&resume),
            requester_only: Some("Only the requester can extend this access."),
        };
        let Guarded {
            me,
            token,
            snapshot,
        } = match self.guard(who, request, &guard).await? {
            Ok(guarded) => guarded,
            Err(refusal) => return Ok(Acted::Refused(refusal)),
        };
        let Some(assignment) = snapshot.request.assignment.as_ref() else {
            return Ok(Acted::Refused(text("There is no assignment to extend.")));
        };
        let entry = &snapshot.package.entry;
        let ticket = snapshot.view.ticket.clone().unwrap_or_default();
        let new = em::NewRequest {
            target: &me,
            package: &entry.package,
            policy: &entry.policy,
            ticket_question: &entry.ticket_question,
            ticket: &ticket,
            justification: snapshot.view.justification.as_deref(),
        };
        match em::create_request(&self.ctx.graph, &token, &new, Some(&assignment.id)).await {
            Ok(created) => {
                if let Ok(id) = created.id.parse::<RequestId>() {
                    let _ = self.reconcile(&id).await;
                }
                Ok(Acted::Changed(text(format!(
                    "Extension requested (request {}); it goes through approval again.",
                    created.id
                ))))
            }
            Err(
                GraphError::InvalidRequest { message, .. } | GraphError::Forbidden { message, .. },
            ) => Ok(Acted::Refused(text(format!(
                "Microsoft Entra refused the extension: {message}"
            )))),
            Err(e) => Err(e.into()),
        }
    }
}
