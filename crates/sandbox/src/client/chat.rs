//! One message or card in a persona's chat, as the persona reads it, the
//! same for Teams (Adaptive Cards) and Slack (Block Kit).

use serde_json::Value;

/// A message the bot posted, in its current (possibly updated) form.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatItem {
    /// Teams activity id or Slack `ts`.
    pub id: String,
    /// Every text the message shows, one per line.
    pub text: String,
    /// Live buttons: Teams `Action.Execute` verbs, Slack button `action_id`s.
    pub actions: Vec<String>,
    /// The sign-in link the message offers, if any.
    pub sign_in: Option<String>,
    /// The message as the emulator holds it.
    pub raw: Value,
}

impl ChatItem {
    /// A Teams activity (card content when there is one).
    pub(super) fn from_teams(activity: &Value) -> Self {
        let card = &activity["attachments"][0]["content"];
        let mut text = activity["text"].as_str().unwrap_or_default().to_owned();
        if !card.is_null() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&card_text(card));
        }
        let actions = card["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["type"] == "Action.Execute")
            .filter_map(|a| a["verb"].as_str().map(str::to_owned))
            .collect();
        let sign_in = card["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["type"] == "Action.OpenUrl")
            .and_then(|a| a["url"].as_str().map(str::to_owned));
        Self {
            id: activity["id"].as_str().unwrap_or_default().to_owned(),
            text,
            actions,
            sign_in,
            raw: activity.clone(),
        }
    }

    /// A Slack message.
    pub(super) fn from_slack(message: &Value) -> Self {
        let mut actions = Vec::new();
        let mut sign_in = None;
        for block in message["blocks"].as_array().into_iter().flatten() {
            for e in block["elements"].as_array().into_iter().flatten() {
                if e["type"] != "button" {
                    continue;
                }
                let id = e["action_id"].as_str().unwrap_or_default().to_owned();
                match e["url"].as_str() {
                    Some(url) => sign_in = Some(url.to_owned()),
                    None => actions.push(id),
                }
            }
        }
        Self {
            id: message["ts"].as_str().unwrap_or_default().to_owned(),
            text: slack_text(message),
            actions,
            sign_in,
            raw: message.clone(),
        }
    }

    /// Whether it still offers a decision or an activation.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.actions
            .iter()
            .any(|a| a == "approve" || a == "deny" || a.starts_with("activate"))
    }
}

/// Card properties that are layout or identifiers, not text a person reads.
const LAYOUT_KEYS: &[&str] = &[
    "fallback",
    "type",
    "verb",
    "id",
    "style",
    "url",
    "$schema",
    "version",
    "size",
    "weight",
    "spacing",
    "wrap",
    "color",
    "isSubtle",
    "width",
    "placeholder",
    "data",
];

/// Every string in an Adaptive Card, one per line (what a person reads).
#[must_use]
pub fn card_text(card: &Value) -> String {
    fn walk(node: &Value, out: &mut String) {
        match node {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(m) => {
                // The body before the buttons, as a person reads a card;
                // layout and identifiers are not text.
                let (body, rest): (Vec<_>, Vec<_>) =
                    m.iter().partition(|(k, _)| k.as_str() == "body");
                body.into_iter()
                    .chain(rest)
                    .filter(|(k, _)| !LAYOUT_KEYS.contains(&k.as_str()))
                    .for_each(|(_, v)| walk(v, out));
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(card, &mut out);
    out
}

/// Everything a Slack message shows: its fallback text and every text object.
#[must_use]
pub fn slack_text(message: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(t)) = m.get("text") {
                    out.push_str(t);
                    out.push('\n');
                }
                for (k, v) in m {
                    if k != "text" || !v.is_string() {
                        walk(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    walk(&message["blocks"], &mut out);
    format!("{}\n{out}", message["text"].as_str().unwrap_or(""))
}
