//! Adaptive Cards (1.5) for every engine message, rendered from the JSON
//! templates in `adaptive-cards/` at the repository root.
//!
//! Templates are parsed as JSON and placeholders (`"${name}"`) are replaced
//! by JSON *values*, never spliced into JSON text, so no input can break out
//! of its string. Text that comes from people (justifications, names,
//! tickets) is only ever placed in `TextRun`s of a `RichTextBlock`: unlike
//! `TextBlock`, a `TextRun` does not render markdown, so "**Approved**" or
//! a `[link](…)` typed by a requester shows literally and cannot forge card
//! content. `TextBlock`s carry only the bot's own fixed wording.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::chat::port::{ApprovalCard, Message, StageHistory};
use crate::engine::time::human_duration;
use stagegate_domain::ids::RequestId;

pub const APPROVAL_REQUEST: &str = include_str!("../../../adaptive-cards/approval-request.json");
pub const APPROVAL_DECIDED: &str = include_str!("../../../adaptive-cards/approval-decided.json");
pub const NOTICE: &str = include_str!("../../../adaptive-cards/notice.json");
pub const ACTIVATION_PROMPT: &str = include_str!("../../../adaptive-cards/activation-prompt.json");
pub const EXPIRY_WARNING: &str = include_str!("../../../adaptive-cards/expiry-warning.json");
pub const SIGN_IN: &str = include_str!("../../../adaptive-cards/sign-in.json");
pub const SECURITY_ALERT: &str = include_str!("../../../adaptive-cards/security-alert.json");

/// Every template, by file name (for tests and validation).
pub const TEMPLATES: [(&str, &str); 7] = [
    ("approval-request.json", APPROVAL_REQUEST),
    ("approval-decided.json", APPROVAL_DECIDED),
    ("notice.json", NOTICE),
    ("activation-prompt.json", ACTIVATION_PROMPT),
    ("expiry-warning.json", EXPIRY_WARNING),
    ("sign-in.json", SIGN_IN),
    ("security-alert.json", SECURITY_ALERT),
];

/// Fills `template`: a string equal to `${k}` becomes the value of `k`; an
/// array element `${k}` whose value is an array is spliced in; `${k}` inside
/// a longer string is replaced by the string value.
pub fn fill(template: &str, vars: &[(&str, Value)]) -> Value {
    let parsed: Value = serde_json::from_str(template).unwrap_or_else(|_| json!({}));
    substitute(parsed, vars)
}

fn lookup<'a>(vars: &'a [(&str, Value)], s: &str) -> Option<&'a Value> {
    let name = s.strip_prefix("${")?.strip_suffix('}')?;
    vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
}

fn substitute(node: Value, vars: &[(&str, Value)]) -> Value {
    match node {
        Value::String(s) => match lookup(vars, &s) {
            Some(v) => v.clone(),
            None => Value::String(s),
        },
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Value::String(s) = &item
                    && let Some(Value::Array(spliced)) = lookup(vars, s)
                {
                    out.extend(spliced.iter().cloned());
                    continue;
                }
                out.push(substitute(item, vars));
            }
            Value::Array(out)
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, substitute(v, vars)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

/// A line of text from people: a `RichTextBlock` of plain `TextRun`s (no
/// markdown), with an optional bold label of the bot's own.
pub fn line(label: Option<&str>, text: &str) -> Value {
    let mut inlines = Vec::new();
    if let Some(label) = label {
        inlines
            .push(json!({ "type": "TextRun", "text": format!("{label}: "), "weight": "Bolder" }));
    }
    inlines.push(json!({ "type": "TextRun", "text": bounded(text) }));
    json!({ "type": "RichTextBlock", "inlines": inlines })
}

/// Teams refuses activities over ~28 KB; people's text is cut well below.
fn bounded(text: &str) -> String {
    const MAX: usize = 2000;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn approval_facts(card: &ApprovalCard) -> Value {
    let mut facts = vec![
        line(Some("Requester"), &card.requester.name),
        line(Some("Package"), &card.package),
    ];
    if let Some(role) = &card.role {
        facts.push(line(Some("Leads to"), role));
    }
    if let Some(ticket) = &card.ticket {
        facts.push(line(Some("Ticket"), ticket));
    }
    if let Some(j) = &card.justification {
        facts.push(line(Some("Justification"), j));
    }
    facts.push(line(
        Some("Stage"),
        &format!("{} of {}", card.stage, card.stages),
    ));
    if let Some(deadline) = &card.deadline {
        facts.push(line(Some("Decide by"), &time(deadline)));
    }
    if card.escalated {
        facts.push(line(
            None,
            "Escalated: the first approvers did not decide in time.",
        ));
    }
    facts.push(line(Some("Request"), &card.request.to_string()));
    Value::Array(facts)
}

fn history(items: &[StageHistory]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|h| {
                let by = h.by.as_ref().map_or("someone", |p| p.name.as_str());
                let mut text = format!("{} by {by}", h.result);
                if !h.justification.trim().is_empty() {
                    text.push_str(&format!(": “{}”", h.justification.trim()));
                }
                line(Some(&format!("Stage {}", h.stage)), &text)
            })
            .collect(),
    )
}

fn lines(texts: &[&str]) -> Value {
    Value::Array(texts.iter().map(|t| line(None, t)).collect())
}

fn notice(title: &str, summary: &str, body: &[&str]) -> Value {
    fill(
        NOTICE,
        &[
            ("title", json!(title)),
            ("summary", json!(summary)),
            ("lines", lines(body)),
        ],
    )
}

/// Teams runs a card's `refresh` automatically for at most 60 listed
/// users (docs/architecture.md, "Teams cards").
pub const MAX_REFRESH_USERS: usize = 60;

/// The card for `message`; an approval card's `refresh` names no users
/// (see [`render_for`]).
pub fn render(message: &Message) -> Value {
    render_for(message, None)
}

/// The card for `message`. An approval card carries a `refresh`
/// (`Action.Execute` verb `refresh`) so that Teams asks the bot for its
/// current state when a person opens the chat; `refresh_users` are the
/// Teams user ids (`29:…`) it runs for, the first [`MAX_REFRESH_USERS`]
/// kept. `None` leaves `userIds` out: Teams then refreshes for every
/// member of a chat of at most 60 (in a 1:1 chat, the approver).
pub fn render_for(message: &Message, refresh_users: Option<&[String]>) -> Value {
    let summary = message.text();
    match message {
        Message::ApprovalRequest { card } => approval_request_card(card, &summary, refresh_users),
        Message::ApprovalDecided { card, outcome } => {
            approval_decided_card(card, outcome, &summary)
        }
        Message::RequestStatus { package, text, .. } => {
            notice("Your request", &summary, &[package, text])
        }
        Message::ActivationPrompt {
            request,
            package,
            group,
            choices,
            default,
            mfa_required,
        } => activation_prompt_card(
            &ActivationPrompt {
                request,
                package,
                group,
                choices,
                default,
                mfa_required: *mfa_required,
            },
            &summary,
        ),
        Message::ActivationClosed { text, .. } => notice("Activation", &summary, &[text]),
        Message::ActivationResult { text, .. } => notice("Activation", &summary, &[text]),
        Message::ExpiryWarning {
            request,
            package,
            expires,
        } => expiry_warning_card(request, package, expires, &summary),
        Message::Reminder {
            request,
            stage,
            deadline,
        } => reminder_card(request, *stage, deadline, &summary),
        Message::SecurityAlert { title, lines: l } => security_alert_card(title, l, &summary),
        Message::SignInPrompt { reason, url } => {
            fill(SIGN_IN, &[("lines", lines(&[reason])), ("url", json!(url))])
        }
        Message::Help { text } => notice("How to use stagegate", &summary, &[text]),
        Message::Text { text } | Message::SignInStillValid { text } => {
            notice("stagegate", &summary, &[text])
        }
    }
}

fn approval_request_card(
    card: &ApprovalCard,
    summary: &str,
    refresh_users: Option<&[String]>,
) -> Value {
    let users: Vec<&String> = refresh_users
        .unwrap_or_default()
        .iter()
        .take(MAX_REFRESH_USERS)
        .collect();
    let mut rendered = fill(
        APPROVAL_REQUEST,
        &[
            (
                "title",
                json!(format!(
                    "Approval needed: stage {} of {}",
                    card.stage, card.stages
                )),
            ),
            ("summary", json!(summary)),
            ("facts", approval_facts(card)),
            ("history", history(&card.history)),
            ("request", json!(card.request.to_string())),
            ("stage_id", json!(card.stage_id.to_string())),
            ("refresh_users", json!(users)),
        ],
    );
    if refresh_users.is_none()
        && let Some(refresh) = rendered.get_mut("refresh").and_then(Value::as_object_mut)
    {
        refresh.remove("userIds");
    }
    rendered
}

fn approval_decided_card(card: &ApprovalCard, outcome: &str, summary: &str) -> Value {
    fill(
        APPROVAL_DECIDED,
        &[
            (
                "title",
                json!(format!("Stage {} of {}: decided", card.stage, card.stages)),
            ),
            ("summary", json!(summary)),
            ("outcome", json!(bounded(outcome))),
            ("facts", approval_facts(card)),
            ("history", history(&card.history)),
        ],
    )
}

/// The fields of `Message::ActivationPrompt`, borrowed, so the card builder
/// does not take six loose arguments.
struct ActivationPrompt<'a> {
    request: &'a RequestId,
    package: &'a str,
    group: &'a str,
    choices: &'a [String],
    default: &'a str,
    mfa_required: bool,
}

fn activation_prompt_card(prompt: &ActivationPrompt<'_>, summary: &str) -> Value {
    let mut body = vec![
        line(Some("Package"), prompt.package),
        line(Some("Group"), prompt.group),
    ];
    if prompt.mfa_required {
        body.push(line(None, "Activation asks you to sign in with MFA."));
    }
    let choices: Vec<Value> = prompt
        .choices
        .iter()
        .map(|d| json!({ "title": duration_title(d), "value": d }))
        .collect();
    fill(
        ACTIVATION_PROMPT,
        &[
            ("summary", json!(summary)),
            ("lines", Value::Array(body)),
            ("default", json!(prompt.default)),
            ("choices", Value::Array(choices)),
            ("request", json!(prompt.request.to_string())),
        ],
    )
}

fn expiry_warning_card(
    request: &RequestId,
    package: &str,
    expires: &DateTime<Utc>,
    summary: &str,
) -> Value {
    fill(
        EXPIRY_WARNING,
        &[
            ("summary", json!(summary)),
            (
                "lines",
                Value::Array(vec![
                    line(Some("Package"), package),
                    line(Some("Expires"), &time(expires)),
                ]),
            ),
            ("request", json!(request.to_string())),
        ],
    )
}

fn reminder_card(request: &RequestId, stage: u8, deadline: &DateTime<Utc>, summary: &str) -> Value {
    notice(
        "Reminder: a decision is waiting for you",
        summary,
        &[
            &format!("Request {request}, stage {stage}"),
            &format!("Decide by {}", time(deadline)),
        ],
    )
}

fn security_alert_card(title: &str, alert_lines: &[String], summary: &str) -> Value {
    fill(
        SECURITY_ALERT,
        &[
            ("summary", json!(summary)),
            ("title", json!(bounded(title))),
            (
                "lines",
                lines(&alert_lines.iter().map(String::as_str).collect::<Vec<_>>()),
            ),
        ],
    )
}

fn duration_title(iso: &str) -> String {
    crate::engine::time::parse_duration(iso)
        .map(human_duration)
        .unwrap_or_else(|_| iso.to_owned())
}

/// Shown at once to whoever clicked, while the decision is relayed.
pub fn recording() -> Value {
    notice(
        "Recording your decision…",
        "Recording your decision…",
        &["This card updates when Microsoft Entra has the decision."],
    )
}

/// `card` with a notice on top (a click that changed nothing).
pub fn with_notice(mut card: Value, text: &str) -> Value {
    if let Some(body) = card.get_mut("body").and_then(Value::as_array_mut) {
        body.insert(0, line(None, text));
    }
    card
}
