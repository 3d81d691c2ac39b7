//! Block Kit for every [`Message`]: the blocks and the notification `text`
//! fallback Slack requires beside them. Text that people typed (names,
//! tickets, justifications) is escaped for mrkdwn so it can neither ping a
//! channel (`<!channel>`) nor forge a link (`<https://…|…>`); long texts are
//! cut visibly by [`super::blocks`] when posted.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::blocks::truncate;
use crate::chat::port::{ApprovalCard, CardAction, Message};
use crate::engine::time::human_duration;
use stagegate_domain::ids::RequestId;

/// `action_id`s of the buttons (the value carries the [`CardAction`]).
pub const APPROVE: &str = "approve";
pub const DENY: &str = "deny";
pub const ACTIVATE_PREFIX: &str = "activate_";
pub const EXTEND: &str = "extend";
pub const SIGN_IN: &str = "sign_in";

/// A section's text may hold 3000 characters; a field 2000.
const SECTION_MAX: usize = 3000;
const FIELD_MAX: usize = 2000;

/// Escapes the three characters mrkdwn gives meaning to (Slack's
/// "Escaping text" rule); everything else is shown as typed.
#[must_use]
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The rendered message: `text` is the notification fallback.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub text: String,
    pub blocks: Vec<Value>,
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(text, SECTION_MAX) } })
}

fn header(text: &str) -> Value {
    json!({ "type": "header", "text": { "type": "plain_text", "text": truncate(text, 150), "emoji": true } })
}

fn context(text: &str) -> Value {
    json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": truncate(text, SECTION_MAX) } ] })
}

fn field(label: &str, value: &str) -> Value {
    json!({ "type": "mrkdwn", "text": truncate(&format!("*{label}*\n{value}"), FIELD_MAX) })
}

/// A button whose value is the action itself (ids only: who pressed is
/// whoever Slack signed for, never read from the value).
fn button(action_id: &str, label: &str, action: &CardAction, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button",
        "action_id": action_id,
        "text": { "type": "plain_text", "text": label, "emoji": true },
        "value": serde_json::to_string(action).unwrap_or_default(),
    });
    if let Some(style) = style {
        b["style"] = json!(style);
    }
    b
}

fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn iso_label(iso: &str) -> String {
    crate::engine::time::parse_duration(iso)
        .map(human_duration)
        .unwrap_or_else(|_| iso.to_owned())
}

fn card_blocks(card: &ApprovalCard, outcome: Option<&str>) -> Vec<Value> {
    let mut fields = vec![
        field("Requester", &escape(&card.requester.name)),
        field("Package", &escape(&card.package)),
    ];
    if let Some(role) = &card.role {
        fields.push(field("Leads to", &escape(role)));
    }
    fields.push(field(
        "Ticket",
        &card.ticket.as_deref().map_or_else(|| "—".into(), escape),
    ));
    fields.push(field(
        "Stage",
        &format!("{} of {}", card.stage, card.stages),
    ));
    if let Some(deadline) = &card.deadline {
        fields.push(field("Decide by", &when(deadline)));
    }
    let mut blocks = vec![
        header(&format!("Access request: {}", card.package)),
        json!({ "type": "section", "fields": fields }),
    ];
    if let Some(j) = card
        .justification
        .as_deref()
        .filter(|j| !j.trim().is_empty())
    {
        // Every line quoted: mrkdwn's `>` covers one line only.
        let quoted = escape(j).replace('\n', "\n>");
        blocks.push(section(&format!("*Justification*\n>{quoted}")));
    }
    for h in &card.history {
        let by =
            h.by.as_ref()
                .map_or_else(|| "nobody".into(), |p| escape(&p.name));
        let why = if h.justification.trim().is_empty() {
            String::new()
        } else {
            format!(": “{}”", escape(&h.justification))
        };
        blocks.push(context(&format!(
            "Stage {}: {} by {by}{why}",
            h.stage,
            escape(&h.result)
        )));
    }
    if card.escalated {
        blocks.push(context(
            "Escalated: the first approvers did not decide in time.",
        ));
    }
    match outcome {
        Some(outcome) => blocks.push(section(&format!("*Outcome:* {}", escape(outcome)))),
        None => {
            let [approve, deny] = card.actions();
            blocks.push(
                json!({ "type": "actions", "block_id": "decision", "elements": [
                button(APPROVE, "Approve", &approve, Some("primary")),
                button(DENY, "Deny", &deny, Some("danger")),
            ] }),
            );
        }
    }
    blocks
}

/// Renders `message` as Block Kit with its fallback text.
#[must_use]
pub fn render(message: &Message) -> Rendered {
    Rendered {
        text: fallback_text(message),
        blocks: message_blocks(message),
    }
}

/// The fallback shows in notifications: a sign-in link stays in the button,
/// not in every preview of the message.
fn fallback_text(message: &Message) -> String {
    match message {
        Message::SignInPrompt { reason, .. } => escape(reason),
        Message::ApprovalRequest { card } => escape(&format!(
            "Approval needed: {} for {} (stage {} of {})",
            card.package, card.requester.name, card.stage, card.stages
        )),
        // A decided card must not still say "approval needed" in previews.
        Message::ApprovalDecided { card, outcome } => escape(&format!(
            "{outcome}: {} for {} (stage {} of {})",
            card.package, card.requester.name, card.stage, card.stages
        )),
        other => escape(&other.text()),
    }
}

fn message_blocks(message: &Message) -> Vec<Value> {
    match message {
        Message::ApprovalRequest { card } => card_blocks(card, None),
        Message::ApprovalDecided { card, outcome } => card_blocks(card, Some(outcome)),
        Message::RequestStatus { package, text, .. } => {
            vec![section(&format!("*{}*\n{}", escape(package), escape(text)))]
        }
        Message::ActivationPrompt {
            request,
            package,
            group,
            choices,
            default,
            mfa_required,
        } => {
            let mut blocks = vec![section(&format!(
                "*{}* is approved. Activate your membership of *{}* when you need it:",
                escape(package),
                escape(group)
            ))];
            let buttons = activation_buttons(*request, choices, default);
            blocks.push(json!({ "type": "actions", "block_id": "activate", "elements": buttons }));
            if *mfa_required {
                blocks.push(context("Activation asks you to sign in again with MFA."));
            }
            blocks
        }
        Message::ActivationClosed { text, .. }
        | Message::ActivationResult { text, .. }
        | Message::Text { text }
        | Message::SignInStillValid { text }
        | Message::Help { text } => vec![section(&escape(text))],
        Message::ExpiryWarning {
            request,
            package,
            expires,
        } => expiry_warning_blocks(*request, package, expires),
        Message::Reminder {
            request,
            stage,
            deadline,
        } => vec![section(&format!(
            "Reminder: request {request} (stage {stage}) needs your decision by {}.",
            when(deadline)
        ))],
        Message::SecurityAlert { title, lines } => security_alert_blocks(title, lines),
        Message::SignInPrompt { reason, url } => sign_in_blocks(reason, url),
    }
}

/// One button per offered duration; the default one is highlighted.
fn activation_buttons(request: RequestId, choices: &[String], default: &str) -> Vec<Value> {
    choices
        .iter()
        .map(|d| {
            let action = CardAction::Activate {
                request,
                duration: d.clone(),
            };
            let style = (d == default).then_some("primary");
            button(
                &format!("{ACTIVATE_PREFIX}{d}"),
                &format!("Activate for {}", iso_label(d)),
                &action,
                style,
            )
        })
        .collect()
}

fn expiry_warning_blocks(request: RequestId, package: &str, expires: &DateTime<Utc>) -> Vec<Value> {
    vec![
        section(&format!(
            "Your access through *{}* expires at {}.",
            escape(package),
            when(expires)
        )),
        json!({ "type": "actions", "block_id": "extend", "elements": [
            button(EXTEND, "Extend", &CardAction::Extend { request }, Some("primary")),
        ] }),
    ]
}

fn security_alert_blocks(title: &str, lines: &[String]) -> Vec<Value> {
    let body = lines
        .iter()
        .map(|l| escape(l))
        .collect::<Vec<_>>()
        .join("\n");
    vec![header(title), section(&body)]
}

fn sign_in_blocks(reason: &str, url: &str) -> Vec<Value> {
    vec![
        section(&escape(reason)),
        json!({ "type": "actions", "block_id": "sign_in", "elements": [ {
            "type": "button", "action_id": SIGN_IN, "style": "primary",
            "text": { "type": "plain_text", "text": "Sign in with Microsoft" },
            "url": url,
        } ] }),
    ]
}
