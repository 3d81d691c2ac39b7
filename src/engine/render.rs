//! Words: how outcomes, events and alerts read, and a plain-text rendering
//! of every message (the in-memory adapter's view; adapters render richer).

use super::time::human_duration;
use super::view::Snapshot;
use crate::chat::port::{ApprovalCard, Message};
use stagegate_domain::ids::{ObjectId, RequestId};
use stagegate_domain::planner::{
    AlertKind, DecidedVia, DenialReason, RequesterEvent, StageOutcome,
};

fn who(snapshot: &Snapshot, id: Option<&ObjectId>) -> String {
    id.map_or_else(|| "someone".to_owned(), |id| snapshot.name(id))
}

fn with_reason(text: String, justification: &str) -> String {
    if justification.trim().is_empty() {
        text
    } else {
        format!("{text}: “{}”", justification.trim())
    }
}

pub(crate) fn outcome(snapshot: &Snapshot, outcome: &StageOutcome) -> String {
    let via = |v: &DecidedVia| match v {
        DecidedVia::Chat => "",
        DecidedVia::OutsideChat => " (outside chat)",
    };
    match outcome {
        StageOutcome::Approved {
            by,
            justification,
            via: v,
        } => with_reason(
            format!("Approved by {}{}", who(snapshot, by.as_ref()), via(v)),
            justification,
        ),
        StageOutcome::Denied {
            by,
            justification,
            via: v,
        } => with_reason(
            format!("Denied by {}{}", who(snapshot, by.as_ref()), via(v)),
            justification,
        ),
        StageOutcome::TimedOut => "Timed out: nobody decided in time, so it was denied".into(),
        StageOutcome::Cancelled => "Cancelled by the requester".into(),
        StageOutcome::Closed { state } => format!("Closed: the request is {state}"),
    }
}

pub(crate) fn requester_event(snapshot: &Snapshot, event: &RequesterEvent) -> String {
    let id = snapshot.view.id;
    let package = &snapshot.package.entry.display_name;
    let n = snapshot.stage_count();
    match event {
        RequesterEvent::Submitted => {
            format!("Your request {id} for {package} was submitted ({n} approval stage(s)).")
        }
        RequesterEvent::StagePassed {
            stage,
            by,
            justification,
        } => with_reason(
            format!(
                "Stage {stage} of {n} of request {id} was approved by {}",
                who(snapshot, by.as_ref())
            ),
            justification,
        ),
        RequesterEvent::Denied { denial } => {
            let why = match &denial.reason {
                DenialReason::ByApprover { by, justification } => with_reason(
                    format!("denied by {}", who(snapshot, by.as_ref())),
                    justification,
                ),
                DenialReason::TimedOut => "denied because nobody decided in time".into(),
                DenialReason::Unexplained => "denied".into(),
            };
            format!("Your request {id} for {package} was {why}.")
        }
        RequesterEvent::Delivered => format!(
            "Your request {id} for {package} was approved and delivered: you are now eligible."
        ),
        RequesterEvent::Expired => format!("Your assignment from request {id} has expired."),
        RequesterEvent::Cancelled => format!("Your request {id} was cancelled."),
        RequesterEvent::DeliveryFailed => {
            format!("Your request {id} was approved but delivery failed; contact an administrator.")
        }
    }
}

pub(crate) fn alert(snapshot: &Snapshot, request: &RequestId, kind: &AlertKind) -> Message {
    let mut lines = vec![
        format!("Request: {request}"),
        format!("Requester: {}", snapshot.name(&snapshot.view.requester)),
        format!("Package: {}", snapshot.package.entry.display_name),
    ];
    if let Some(ticket) = &snapshot.view.ticket {
        lines.push(format!("Ticket: {ticket}"));
    }
    let title = match kind {
        AlertKind::Denied { denial } => {
            if let Some(k) = denial.stage {
                lines.push(format!("Denied at stage {k}"));
            }
            if let DenialReason::ByApprover { by, justification } = &denial.reason {
                lines.push(format!("Denied by: {}", who(snapshot, by.as_ref())));
                lines.push(format!("Reason: {justification}"));
            }
            "Privileged access request denied"
        }
        AlertKind::NoApprovers { stage } => {
            lines.push(format!("Stage {stage} has no approver who can be asked"));
            "Approval stage without approvers"
        }
    };
    Message::SecurityAlert {
        title: title.into(),
        lines,
    }
}

fn card_text(card: &ApprovalCard) -> String {
    let mut out = format!(
        "Approval needed — stage {} of {}\nRequest: {}\nRequester: {}\nPackage: {}",
        card.stage, card.stages, card.request, card.requester.name, card.package
    );
    if let Some(role) = &card.role {
        out.push_str(&format!("\nRole: {role}"));
    }
    if let Some(ticket) = &card.ticket {
        out.push_str(&format!("\nTicket: {ticket}"));
    }
    if let Some(j) = &card.justification {
        out.push_str(&format!("\nJustification: {j}"));
    }
    if let Some(d) = card.deadline {
        out.push_str(&format!("\nDecide by: {}", d.format("%Y-%m-%d %H:%M UTC")));
    }
    if card.escalated {
        out.push_str("\nEscalated: the first approvers did not decide in time");
    }
    for h in &card.history {
        let by = h.by.as_ref().map_or("someone", |p| p.name.as_str());
        out.push_str(&format!(
            "\nStage {}: {} by {by}: “{}”",
            h.stage, h.result, h.justification
        ));
    }
    out
}

/// Plain text of a message.
pub(crate) fn plain(message: &Message) -> String {
    match message {
        Message::ApprovalRequest { card } => format!("{}\n[Approve] [Deny]", card_text(card)),
        Message::ApprovalDecided { card, outcome } => format!("{}\n{outcome}", card_text(card)),
        Message::RequestStatus { text, .. }
        | Message::ActivationClosed { text, .. }
        | Message::ActivationResult { text, .. }
        | Message::Help { text }
        | Message::SignInStillValid { text }
        | Message::Text { text } => text.clone(),
        Message::ActivationPrompt {
            request,
            package,
            group,
            choices,
            default,
            mfa_required,
        } => {
            let choices: Vec<String> = choices
                .iter()
                .map(|c| match super::time::parse_duration(c) {
                    Ok(d) => format!("[Activate {}]", human_duration(d)),
                    Err(_) => format!("[Activate {c}]"),
                })
                .collect();
            format!(
                "{package} (request {request}) is ready: activate your membership of {group}{}. Default {default}.\n{}",
                if *mfa_required { " (MFA required)" } else { "" },
                choices.join(" ")
            )
        }
        Message::ExpiryWarning {
            request,
            package,
            expires,
        } => format!(
            "Your {package} assignment (request {request}) expires at {}. [Extend]",
            expires.format("%Y-%m-%d %H:%M UTC")
        ),
        Message::Reminder {
            request,
            stage,
            deadline,
        } => format!(
            "Reminder: request {request} stage {stage} is automatically denied at {} unless you decide.",
            deadline.format("%Y-%m-%d %H:%M UTC")
        ),
        Message::SecurityAlert { title, lines } => format!("{title}\n{}", lines.join("\n")),
        Message::SignInPrompt { reason, url } => format!("{reason}\nSign in: {url}"),
    }
}
