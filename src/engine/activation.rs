//! Activation of what delivery granted: PIM for Groups `selfActivate` with
//! the requester's own token, the request's justification and ticket, a
//! duration within the group policy's maximum; step-up when the policy's
//! MFA or authentication-context rule refuses the token. "Active until" is
//! said only once Graph shows the activation.

use chrono::Utc;

use super::guard::{Guard, Guarded};
use super::jobs::Job;
use super::port::{CardAction, Message};
use super::resume::Resume;
use super::view::Snapshot;
use super::{Engine, EngineError};
use crate::graph::models::TicketInfo;
use crate::graph::{GraphError, em, pim};
use stagegate_domain::approval::{AssignmentState, RequestState};
use stagegate_domain::ids::{ObjectId, RequestId};

mod recovery;

/// The claims request that asks Entra for an MFA sign-in.
pub const MFA_CLAIMS: &str = r#"{"access_token":{"amr":{"essential":true,"values":["mfa"]}}}"#;

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
    /// Activation, by the requester only.
    pub(super) async fn activate(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
        duration: &str,
    ) -> Result<Message, EngineError> {
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
            Err(refusal) => return Ok(refusal),
        };
        if snapshot.view.state != RequestState::Delivered
            || snapshot.view.assignment != Some(AssignmentState::Delivered)
        {
            return Ok(text(format!(
                "Request {request} has nothing to activate (it is {}).",
                snapshot.view.state
            )));
        }
        let Ok(length) = super::time::parse_duration(duration) else {
            return Ok(text(format!("`{duration}` is not a duration I can use.")));
        };
        let group = snapshot.package.group;
        let rules = pim::activation_rules(&self.graph, &group).await?;
        if length > rules.maximum || length <= chrono::Duration::zero() {
            return Ok(text(format!(
                "Activation can last at most {}.",
                super::time::human_duration(rules.maximum)
            )));
        }
        if pim::eligibility_instances(&self.graph, &me, &group)
            .await?
            .is_empty()
        {
            return Ok(text(
                "Your eligibility isn't visible in PIM yet; try again in a minute.",
            ));
        }
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
        let r = request.to_string();
        let previous = self.store.activation(&r).await?;
        self.store
            .upsert_activation(
                &r,
                &me.to_string(),
                &group.to_string(),
                duration,
                "requesting",
                None,
                None,
                Utc::now(),
            )
            .await?;
        let created = pim::self_activate(
            &self.graph,
            &token,
            &me,
            &group,
            length,
            &justification,
            ticket.as_ref(),
        )
        .await;
        if created.is_err() {
            // Not activated (or not known to be): what was recorded before.
            let (state, duration, until) = previous
                .map_or(("refused".to_owned(), String::new(), None), |p| {
                    (p.state, p.duration, p.active_until)
                });
            self.store
                .upsert_activation(
                    &r,
                    &me.to_string(),
                    &group.to_string(),
                    &duration,
                    &state,
                    None,
                    until,
                    Utc::now(),
                )
                .await?;
        }
        let step_up = |claims: String| async move {
            self.sign_in_prompt(
                who,
                "This activation needs a stronger sign-in (MFA). Sign in again; the activation then completes by itself.",
                Some(&claims),
                Some(&resume),
            )
            .await
        };
        let schedule_request = match created {
            Ok(r) => r,
            Err(GraphError::ClaimsChallenge { claims }) => return Ok(step_up(claims).await),
            Err(GraphError::InvalidRequest { code, message })
                if code == "RoleAssignmentRequestPolicyValidationFailed"
                    && message.contains("MfaRule") =>
            {
                return Ok(step_up(MFA_CLAIMS.to_owned()).await);
            }
            Err(GraphError::InvalidRequest { code, message })
                if code == "RoleAssignmentRequestAcrsValidationFailed" =>
            {
                return Ok(match acrs_claims(&message) {
                    Some(claims) => step_up(claims).await,
                    None => text(format!("PIM refused the activation: {message}")),
                });
            }
            Err(
                GraphError::InvalidRequest { message, .. } | GraphError::Forbidden { message, .. },
            ) => {
                return Ok(text(format!("PIM refused the activation: {message}")));
            }
            Err(e) => return Err(e.into()),
        };
        let now = Utc::now();
        self.store
            .upsert_activation(
                &r,
                &me.to_string(),
                &group.to_string(),
                duration,
                "requested",
                Some(&schedule_request.id),
                None,
                now,
            )
            .await?;
        self.audit(
            &me.to_string(),
            "activation.requested",
            &r,
            "ok",
            serde_json::json!({ "duration": duration, "scheduleRequest": schedule_request.id }),
        )
        .await;
        self.confirm_activation(&snapshot, &me, &schedule_request.id)
            .await
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
        let active = pim::assignment_instances(&self.graph, me, &group).await?;
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
        let r = request.to_string();
        self.store
            .upsert_activation(
                &r,
                &me.to_string(),
                &group.to_string(),
                "",
                "active",
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

    /// Extension of an assignment about to expire: a `userUpdate` request
    /// by the requester, with the original ticket and justification.
    pub(super) async fn extend(
        &self,
        who: &ChatIdentity,
        request: &RequestId,
    ) -> Result<Message, EngineError> {
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
            Err(refusal) => return Ok(refusal),
        };
        let Some(assignment) = snapshot.request.assignment.as_ref() else {
            return Ok(text("There is no assignment to extend."));
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
        match em::create_request(&self.graph, &token, &new, Some(&assignment.id)).await {
            Ok(created) => {
                if let Ok(id) = created.id.parse::<RequestId>() {
                    let _ = self.reconcile(&id).await;
                }
                Ok(text(format!(
                    "Extension requested (request {}); it goes through approval again.",
                    created.id
                )))
            }
            Err(
                GraphError::InvalidRequest { message, .. } | GraphError::Forbidden { message, .. },
            ) => Ok(text(format!(
                "Microsoft Entra refused the extension: {message}"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A member joined or left a watched group. Joins that no activation
    /// through the bot explains are reported to the security channel, once
    /// per change: keyed by the notification's id when Graph gave one (a
    /// redelivery has the same id), else by the second it was seen.
    pub(super) async fn on_membership(
        &self,
        group: &ObjectId,
        member: &ObjectId,
        added: bool,
        notification: Option<&str>,
    ) -> Result<(), EngineError> {
        if !added || !self.packages.iter().any(|p| p.group == *group) {
            return Ok(());
        }
        let explained = self
            .store
            .activation_of(&member.to_string(), &group.to_string())
            .await?
            .is_some_and(|a| matches!(a.state.as_str(), "active" | "requested" | "requesting"));
        if explained {
            return Ok(());
        }
        let name = self.display_name(member).await;
        let at = self.clock.now();
        let key = match notification {
            Some(id) => format!("membership:{group}:{member}:notification:{id}"),
            None => format!("membership:{group}:{member}:{}", at.timestamp()),
        };
        let seen = format!("Seen at: {}", at.format("%Y-%m-%d %H:%M UTC"));
        // Activated elsewhere (the PIM portal, PowerShell) by someone whose
        // request was approved: an activation alert naming that approval.
        if let Some(lines) = self.approval_explaining(group, member).await? {
            let mut lines = lines;
            lines.push(seen);
            let job = Job::Security {
                channel: None,
                message: Message::SecurityAlert {
                    title: "Privileged role activated outside chat".into(),
                    lines,
                },
            };
            return self.queue_unattached(&[(key, job)]).await;
        }
        let job = Job::Security {
            channel: None,
            message: Message::SecurityAlert {
                title: "Privileged group membership not made through stagegate".into(),
                lines: vec![
                    format!("Group: {group}"),
                    format!("Member: {name} ({member})"),
                    seen,
                ],
            },
        };
        self.queue_unattached(&[(key, job)]).await
    }
}

impl Engine {
    /// The delivered request that makes `member` eligible for `group`, as
    /// alert lines (request, requester, package, approvers, ticket).
    async fn approval_explaining(
        &self,
        group: &ObjectId,
        member: &ObjectId,
    ) -> Result<Option<Vec<String>>, EngineError> {
        let aliases: Vec<String> = self
            .packages
            .iter()
            .filter(|p| p.group == *group)
            .map(|p| p.alias.to_string())
            .collect();
        let Some(id) = self
            .store
            .delivered_request_of(&member.to_string(), &aliases)
            .await?
        else {
            return Ok(None);
        };
        let Ok(request) = id.parse::<RequestId>() else {
            return Ok(None);
        };
        let Some(snapshot) = self.snapshot(&request).await? else {
            return Ok(None);
        };
        let lines = approval_alert_lines(&snapshot, member, group);
        Ok(Some(lines))
    }
}

/// What an activation alert says about the approval behind it: request,
/// requester, package, role, group, each stage's approver, ticket.
fn approval_alert_lines(
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

use crate::store::links::ChatIdentity;

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
