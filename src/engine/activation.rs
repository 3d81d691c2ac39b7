//! Activation of what delivery granted: PIM for Groups `selfActivate` with
//! the requester's own token, the request's justification and ticket, a
//! duration within the group policy's maximum; step-up when the policy's
//! MFA or authentication-context rule refuses the token. "Active until" is
//! said only once Graph shows the activation.

use chrono::Utc;
use secrecy::SecretString;

use super::Acted;
use super::guard::{Checked, Guard, Guarded};
use super::jobs::Job;
use super::resume::Resume;
use super::view::Snapshot;
use super::{Engine, EngineError};
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{CardAction, Message};
use crate::graph::models::{GroupScheduleRequest, TicketInfo};
use crate::graph::{GraphError, pim};
use crate::store::ActivationState;
use stagegate_domain::approval::{AssignmentState, RequestState};
use stagegate_domain::ids::{ObjectId, RequestId};

mod recovery;

/// The claims request that asks Entra for an MFA sign-in.
pub(crate) const MFA_CLAIMS: &str =
    r#"{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#;

fn text(text: impl Into<String>) -> Message {
    Message::Text { text: text.into() }
}

/// The claims request PIM names in `RoleAssignmentRequestAcrsValidationFailed`
/// (`&claims=<percent-encoded JSON>`).
fn acrs_claims(message: &str) -> Option<String> {
    let encoded = message.split("&claims=").nth(1)?.split('&').next()?;
    let decoded: String = url::form_urlencoded::parse(format!("c={encoded}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    decoded.trim_start().starts_with('{').then_some(decoded)
}

impl Engine {
    /// Activation, by the requester only: the refusal checks, the PIM
    /// call as the requester, then the record and the confirmation.
    pub(super) async fn activate(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
        duration: &str,
    ) -> Result<Acted, EngineError> {
        let resume = Resume::Action {
            action: CardAction::Activate {
                request: *request,
                duration: duration.to_owned(),
            },
            justification: None,
        };
        let guard = Guard {
            sign_in: "Sign in so I can activate as you.",
            resume: Some(&resume),
            requester_only: Some("Only the requester can activate this access."),
        };
        let Guarded {
            me,
            token,
            snapshot,
        } = match self.guard(who, request, &guard).await? {
            Ok(guarded) => guarded,
            Err(refusal) => return Ok(Acted::Refused(refusal)),
        };
        let length = match self.activation_length(&snapshot, &me, duration).await? {
            Ok(length) => length,
            Err(refusal) => return Ok(Acted::Refused(refusal)),
        };
        let created = self
            .self_activate(&snapshot, &me, &token, duration, length)
            .await?;
        let schedule_request = match created {
            Ok(created) => created.id,
            Err(e) => {
                return self
                    .activation_refused(who, &resume, e)
                    .await
                    .map(Acted::Refused);
            }
        };
        self.activation_requested(&snapshot, &me, duration, &schedule_request)
            .await?;
        self.confirm_activation(&snapshot, &me, &schedule_request)
            .await
            .map(Acted::Changed)
    }

    /// How long the activation may last, or why there is nothing to
    /// activate (yet).
    async fn activation_length(
        &self,
        snapshot: &Snapshot,
        me: &ObjectId,
        duration: &str,
    ) -> Result<Checked<chrono::Duration>, EngineError> {
        let request = snapshot.view.id;
        if snapshot.view.state != RequestState::Delivered
            || snapshot.view.assignment != Some(AssignmentState::Delivered)
        {
            return Ok(Err(text(format!(
                "Request {request} has nothing to activate (it is {}).",
                snapshot.view.state
            ))));
        }
        let Ok(length) = super::time::parse_duration(duration) else {
            return Ok(Err(text(format!(
                "`{duration}` is not a duration I can use."
            ))));
        };
        let group = snapshot.package.group;
        let rules = pim::activation_rules(&self.ctx.graph, &group).await?;
        if length > rules.maximum || length <= chrono::Duration::zero() {
            return Ok(Err(text(format!(
                "Activation can last at most {}.",
                super::time::human_duration(rules.maximum)
            ))));
        }
        if pim::eligibility_instances(&self.ctx.graph, me, &group)
            .await?
            .is_empty()
        {
            return Ok(Err(text(
                "Your eligibility isn't visible in PIM yet; try again in a minute.",
            )));
        }
        Ok(Ok(length))
    }

    /// PIM's `selfActivate` as the requester, with the request's
    /// justification and ticket. The activation is recorded as
    /// `requesting` around the call and put back as it was if PIM did not
    /// (or may not have) activated.
    async fn self_activate(
        &self,
        snapshot: &Snapshot,
        me: &ObjectId,
        token: &SecretString,
        duration: &str,
        length: chrono::Duration,
    ) -> Result<Result<GroupScheduleRequest, GraphError>, EngineError> {
        let request = snapshot.view.id;
        let group = snapshot.package.group;
        let justification = snapshot
            .view
            .justification
            .clone()
            .filter(|j| !j.trim().is_empty())
            .unwrap_or_else(|| format!("stagegate request {request}"));
        let ticket = snapshot.view.ticket.clone().map(|t| TicketInfo {
            ticket_number: t,
            ticket_system: snapshot.package.ticket_system.clone(),
        });
        // Recorded before the call: PIM adds the member at once, and the
        // group's change notification can reach intake before PIM's answer
        // reaches us; a join seen meanwhile must read as this activation.
        let previous = self.ctx.store.activation(&request).await?;
        self.ctx
            .store
            .upsert_activation(
                &request,
                me,
                &group,
                duration,
                ActivationState::Requesting,
                None,
                None,
                Utc::now(),
            )
            .await?;
        let created = pim::self_activate(
            &self.ctx.graph,
            token,
            me,
            &group,
            length,
            &justification,
            ticket.as_ref(),
        )
        .await;
        if created.is_err() {
            // Not activated (or not known to be): what was recorded before.
            let (state, duration, until) = previous
                .map_or((ActivationState::Refused, String::new(), None), |p| {
                    (p.state, p.duration, p.active_until)
                });
            self.ctx
                .store
                .upsert_activation(
                    &request,
                    me,
                    &group,
                    &duration,
                    state,
                    None,
                    until,
                    Utc::now(),
                )
                .await?;
        }
        Ok(created)
    }

    /// The answer to PIM refusing an activation: a step-up sign-in when
    /// the policy's MFA or authentication-context rule is what refused.
    async fn activation_refused(
        &self,
        who: &ChatIdentity,
        resume: &Resume,
        refused: GraphError,
    ) -> Result<Message, EngineError> {
        let step_up = |claims: String| async move {
            self.sign_in_prompt(
                who,
                "This activation needs a stronger sign-in (MFA). Sign in again; the activation then completes by itself.",
                Some(&claims),
                Some(resume),
            )
            .await
        };
        Ok(match refused {
            GraphError::ClaimsChallenge { claims } => step_up(claims).await,
            GraphError::InvalidRequest { code, message }
                if code == "RoleAssignmentRequestPolicyValidationFailed"
                    && message.contains("MfaRule") =>
            {
                step_up(MFA_CLAIMS.to_owned()).await
            }
            GraphError::InvalidRequest { code, message }
                if code == "RoleAssignmentRequestAcrsValidationFailed" =>
            {
                match acrs_claims(&message) {
                    Some(claims) => step_up(claims).await,
                    None => text(format!("PIM refused the activation: {message}")),
                }
            }
            GraphError::InvalidRequest { message, .. } | GraphError::Forbidden { message, .. } => {
                text(format!("PIM refused the activation: {message}"))
            }
            e => return Err(e.into()),
        })
    }

    /// Records and audits the activation PIM accepted.
    async fn activation_requested(
        &self,
        snapshot: &Snapshot,
        me: &ObjectId,
        duration: &str,
        schedule_request: &str,
    ) -> Result<(), EngineError> {
        self.ctx
            .store
            .upsert_activation(
                &snapshot.view.id,
                me,
                &snapshot.package.group,
                duration,
                ActivationState::Requested,
                Some(schedule_request),
                None,
                Utc::now(),
            )
            .await?;
        self.audit(
            &me.to_string(),
            "activation.requested",
            &snapshot.view.id.to_string(),
            "ok",
            serde_json::json!({ "duration": duration, "scheduleRequest": schedule_request }),
        )
        .await;
        Ok(())
    }

    /// Says "active until …" once Graph lists the activation, and alerts
    /// the security channel.
    async fn confirm_activation(
        &self,
        snapshot: &Snapshot,
        me: &ObjectId,
        schedule_request: &str,
    ) -> Result<Message, EngineError> {
        let group = snapshot.package.group;
        let request = snapshot.view.id;
        let active = pim::assignment_instances(&self.ctx.graph, me, &group).await?;
        let Some(instance) = active
            .iter()
            .filter(|i| i.assignment_type.as_deref() != Some("assigned"))
            .max_by_key(|i| i.end_date_time)
        else {
            return Ok(text(
                "Activation requested. I'll tell you as soon as PIM shows it active.",
            ));
        };
        let until = instance.end_date_time;
        self.ctx
            .store
            .upsert_activation(
                &request,
                me,
                &group,
                "",
                ActivationState::Active,
                None,
                until,
                Utc::now(),
            )
            .await?;
        let until_text = until.map_or_else(
            || "further notice".to_owned(),
            |u| u.format("%Y-%m-%d %H:%M UTC").to_string(),
        );
        let mut lines = approval_alert_lines(snapshot, me, &group);
        lines.push(format!("Active until: {until_text}"));
        let result = Message::ActivationResult {
            request,
            active_until: until,
            text: format!("Active until {until_text}."),
        };
        self.queue(
            &request,
            &[
                (
                    format!("alert:{request}:activation:{schedule_request}"),
                    Job::Security {
                        channel: None,
                        message: Message::SecurityAlert {
                            title: "Privileged role activated through stagegate".into(),
                            lines,
                        },
                    },
                ),
                (
                    format!("activate-used:{request}:{schedule_request}"),
                    Job::UpdateOf {
                        key: format!("activate:{request}"),
                        message: Message::ActivationClosed {
                            request,
                            text: format!("Activated until {until_text}."),
                        },
                    },
                ),
            ],
        )
        .await?;
        Ok(result)
    }
}

/// What an activation alert says about the approval behind it: request,
/// requester, package, role, group, each stage's approver, ticket.
pub(super) fn approval_alert_lines(
    snapshot: &super::view::Snapshot,
    requester: &ObjectId,
    group: &ObjectId,
) -> Vec<String> {
    let approvers: Vec<String> = snapshot
        .view
        .numbered_stages()
        .map(|(k, s)| {
            let by = s
                .reviewed_by
                .map_or_else(|| "?".to_owned(), |b| snapshot.name(&b));
            format!("stage {k}: {by}")
        })
        .collect();
    let mut lines = vec![
        format!("Request: {}", snapshot.view.id),
        format!("Requester: {}", snapshot.name(requester)),
        format!("Package: {}", snapshot.package.entry.display_name),
    ];
    if let Some(role) = &snapshot.package.role {
        lines.push(format!("Role: {role}"));
    }
    lines.push(format!("Group: {group}"));
    lines.push(format!("Approvers: {}", approvers.join(", ")));
    if let Some(ticket) = &snapshot.view.ticket {
        lines.push(format!("Ticket: {ticket}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acrs_claims_are_decoded_from_pim_message() {
        let msg = "&claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%20%22value%22%3A%22c1%22%7D%7D%7D";
        assert_eq!(
            acrs_claims(msg).as_deref(),
            Some(r#"{"access_token":{"acrs":{"essential":true, "value":"c1"}}}"#)
        );
        assert_eq!(acrs_claims("no claims"), None);
    }
}
