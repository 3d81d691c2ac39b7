//! The buttons of a Slack message, read as a Slack client shows them: the
//! emulator records which approval card a message carries, and the lab's
//! load and bench runs find the cards to click.

use serde_json::Value;

/// `(request, stage)` of a button's value or an action's data: an object
/// with both, found at any depth, or a JSON string holding one.
pub fn request_and_stage(data: &Value) -> Option<(String, String)> {
    match data {
        Value::Object(map) => {
            if let (Some(Value::String(r)), Some(Value::String(s))) =
                (map.get("request"), map.get("stage"))
            {
                return Some((r.clone(), s.clone()));
            }
            map.values().find_map(request_and_stage)
        }
        Value::String(s) if s.starts_with('{') => serde_json::from_str(s)
            .ok()
            .and_then(|v: Value| request_and_stage(&v)),
        _ => None,
    }
}

/// Slack: the buttons of a message as (action_id, value or url).
pub fn slack_buttons(blocks: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in blocks {
        let elements = block["elements"].as_array().into_iter().flatten();
        for e in elements.chain(block.get("accessory")) {
            if e["type"] == "button" {
                let v = e["value"].as_str().or(e["url"].as_str()).unwrap_or("");
                out.push((
                    e["action_id"].as_str().unwrap_or("").to_owned(),
                    v.to_owned(),
                ));
            }
        }
    }
    out
}

/// `(request, stage)` of the message's Approve button, when it has one.
pub fn slack_approve(blocks: &[Value]) -> Option<(String, String)> {
    slack_buttons(blocks)
        .into_iter()
        .find(|(a, _)| a == "approve")
        .and_then(|(_, v)| request_and_stage(&Value::String(v)))
}
