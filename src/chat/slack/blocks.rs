//! Block Kit limits (docs/architecture.md, "Block Kit limits"), applied
//! before sending so Slack never answers `invalid_blocks`: text a person
//! reads is cut visibly with `…`, surplus blocks are replaced by a "… N
//! more" line, and what cannot be shortened without breaking the bot (ids,
//! button values, too many buttons) is a [`BlockKitError`] — a bug in the
//! card builder, caught before Slack.

use serde_json::{Value, json};

pub const MAX_MESSAGE_BLOCKS: usize = 50;
pub const MAX_MODAL_BLOCKS: usize = 100;
pub const MAX_SECTION_TEXT: usize = 3000;
pub const MAX_SECTION_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
pub const MAX_HEADER_TEXT: usize = 150;
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
pub const MAX_ACTIONS_ELEMENTS: usize = 25;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_ID: usize = 255;
pub const MAX_BUTTON_VALUE: usize = 2000;
pub const MAX_URL: usize = 3000;
pub const MAX_INPUT_LABEL: usize = 2000;
pub const MAX_MODAL_TEXT: usize = 24;
pub const MAX_PRIVATE_METADATA: usize = 3000;
pub const MAX_CONFIRM_TITLE: usize = 100;
pub const MAX_CONFIRM_TEXT: usize = 300;
pub const MAX_CONFIRM_BUTTON: usize = 30;
/// `chat.update` refuses longer `text` with `msg_too_long`.
pub const MAX_MESSAGE_TEXT: usize = 4000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockKitError {
    #[error("{pointer} is longer than {limit} characters and cannot be shortened")]
    TooLong { pointer: String, limit: usize },
    #[error("{pointer} has more than {limit} elements")]
    TooMany { pointer: String, limit: usize },
    #[error("{pointer} is not a Block Kit object")]
    NotAnObject { pointer: String },
}

/// `text` cut to at most `max` characters, the last one `…` when cut.
#[must_use]
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Fits a message's blocks to Slack's limits.
pub fn fit_message_blocks(blocks: &mut Vec<Value>) -> Result<(), BlockKitError> {
    fit_blocks(blocks, MAX_MESSAGE_BLOCKS, "/blocks")
}

/// Fits a message's fallback `text`.
#[must_use]
pub fn fit_message_text(text: &str) -> String {
    truncate(text, MAX_MESSAGE_TEXT)
}

/// Fits a modal view (title, buttons, metadata, blocks).
pub fn fit_modal(view: &mut Value) -> Result<(), BlockKitError> {
    let Some(object) = view.as_object_mut() else {
        return Err(BlockKitError::NotAnObject {
            pointer: "/view".into(),
        });
    };
    for key in ["title", "submit", "close"] {
        cut_text_object(object.get_mut(key), MAX_MODAL_TEXT);
    }
    for key in ["callback_id", "external_id"] {
        refuse_longer(object.get(key), MAX_ID, &format!("/view/{key}"))?;
    }
    refuse_longer(
        object.get("private_metadata"),
        MAX_PRIVATE_METADATA,
        "/view/private_metadata",
    )?;
    match object.get_mut("blocks") {
        Some(Value::Array(blocks)) => fit_blocks(blocks, MAX_MODAL_BLOCKS, "/view/blocks"),
        _ => Ok(()),
    }
}

fn fit_blocks(blocks: &mut Vec<Value>, max: usize, base: &str) -> Result<(), BlockKitError> {
    if blocks.len() > max {
        let hidden = blocks.len() - (max - 1);
        blocks.truncate(max - 1);
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("… {hidden} more not shown") }],
        }));
    }
    for (i, block) in blocks.iter_mut().enumerate() {
        fit_block(block, &format!("{base}/{i}"))?;
    }
    Ok(())
}

fn fit_block(block: &mut Value, pointer: &str) -> Result<(), BlockKitError> {
    let Some(object) = block.as_object_mut() else {
        return Err(BlockKitError::NotAnObject {
            pointer: pointer.into(),
        });
    };
    refuse_longer(
        object.get("block_id"),
        MAX_ID,
        &format!("{pointer}/block_id"),
    )?;
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match kind.as_str() {
        "section" => {
            cut_text_object(object.get_mut("text"), MAX_SECTION_TEXT);
            if let Some(Value::Array(fields)) = object.get_mut("fields") {
                cut_list(fields, MAX_SECTION_FIELDS);
                for field in fields.iter_mut() {
                    cut_text_object(Some(field), MAX_FIELD_TEXT);
                }
            }
            if let Some(accessory) = object.get_mut("accessory") {
                fit_element(accessory, &format!("{pointer}/accessory"))?;
            }
        }
        "header" => cut_text_object(object.get_mut("text"), MAX_HEADER_TEXT),
        "context" => {
            if let Some(Value::Array(elements)) = object.get_mut("elements") {
                cut_list(elements, MAX_CONTEXT_ELEMENTS);
                for element in elements.iter_mut() {
                    cut_text_object(Some(element), MAX_SECTION_TEXT);
                }
            }
        }
        "actions" => {
            if let Some(Value::Array(elements)) = object.get_mut("elements") {
                // Dropping a button would silently remove a choice.
                if elements.len() > MAX_ACTIONS_ELEMENTS {
                    return Err(BlockKitError::TooMany {
                        pointer: format!("{pointer}/elements"),
                        limit: MAX_ACTIONS_ELEMENTS,
                    });
                }
                for (i, element) in elements.iter_mut().enumerate() {
                    fit_element(element, &format!("{pointer}/elements/{i}"))?;
                }
            }
        }
        "input" => {
            cut_text_object(object.get_mut("label"), MAX_INPUT_LABEL);
            cut_text_object(object.get_mut("hint"), MAX_INPUT_LABEL);
            if let Some(element) = object.get_mut("element") {
                fit_element(element, &format!("{pointer}/element"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn fit_element(element: &mut Value, pointer: &str) -> Result<(), BlockKitError> {
    let Some(object) = element.as_object_mut() else {
        return Err(BlockKitError::NotAnObject {
            pointer: pointer.into(),
        });
    };
    refuse_longer(
        object.get("action_id"),
        MAX_ID,
        &format!("{pointer}/action_id"),
    )?;
    if object.get("type").and_then(Value::as_str) == Some("button") {
        cut_text_object(object.get_mut("text"), MAX_BUTTON_TEXT);
        refuse_longer(
            object.get("value"),
            MAX_BUTTON_VALUE,
            &format!("{pointer}/value"),
        )?;
        refuse_longer(object.get("url"), MAX_URL, &format!("{pointer}/url"))?;
    }
    if let Some(Value::Object(confirm)) = object.get_mut("confirm") {
        cut_text_object(confirm.get_mut("title"), MAX_CONFIRM_TITLE);
        cut_text_object(confirm.get_mut("text"), MAX_CONFIRM_TEXT);
        cut_text_object(confirm.get_mut("confirm"), MAX_CONFIRM_BUTTON);
        cut_text_object(confirm.get_mut("deny"), MAX_CONFIRM_BUTTON);
    }
    cut_text_object(object.get_mut("placeholder"), 150);
    Ok(())
}

/// Keeps at most `max` items, the last one saying how many were dropped.
fn cut_list(items: &mut Vec<Value>, max: usize) {
    if items.len() <= max {
        return;
    }
    let hidden = items.len() - (max - 1);
    items.truncate(max - 1);
    items.push(json!({ "type": "mrkdwn", "text": format!("… {hidden} more") }));
}

fn cut_text_object(text: Option<&mut Value>, max: usize) {
    if let Some(Value::String(s)) = text.and_then(|t| t.get_mut("text")) {
        *s = truncate(s, max);
    }
}

fn refuse_longer(value: Option<&Value>, limit: usize, pointer: &str) -> Result<(), BlockKitError> {
    match value.and_then(Value::as_str) {
        Some(s) if s.chars().count() > limit => Err(BlockKitError::TooLong {
            pointer: pointer.into(),
            limit,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_section_text_is_cut_visibly() {
        let mut blocks = vec![json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": "x".repeat(5000) },
        })];
        fit_message_blocks(&mut blocks).unwrap();
        let text = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(text.chars().count(), MAX_SECTION_TEXT);
        assert!(text.ends_with('…'));
    }

    #[test]
    fn surplus_blocks_become_a_more_line() {
        let mut blocks: Vec<Value> = (0..60)
            .map(|i| json!({ "type": "section", "text": { "type": "mrkdwn", "text": format!("{i}") } }))
            .collect();
        fit_message_blocks(&mut blocks).unwrap();
        assert_eq!(blocks.len(), MAX_MESSAGE_BLOCKS);
        assert_eq!(blocks[49]["elements"][0]["text"], "… 11 more not shown");
    }

    #[test]
    fn ids_are_refused_not_cut() {
        let mut blocks = vec![json!({
            "type": "actions",
            "elements": [{ "type": "button", "action_id": "a".repeat(256),
                           "text": { "type": "plain_text", "text": "Approve" } }],
        })];
        let error = fit_message_blocks(&mut blocks).unwrap_err();
        assert_eq!(
            error,
            BlockKitError::TooLong {
                pointer: "/blocks/0/elements/0/action_id".into(),
                limit: 255
            }
        );
    }

    #[test]
    fn button_and_modal_titles_are_cut() {
        let mut view = json!({
            "type": "modal",
            "title": { "type": "plain_text", "text": "A title far longer than twenty-four" },
            "blocks": [{ "type": "actions", "elements": [{ "type": "button", "action_id": "a",
                "text": { "type": "plain_text", "text": "b".repeat(100) } }] }],
        });
        fit_modal(&mut view).unwrap();
        assert_eq!(view["title"]["text"].as_str().unwrap().chars().count(), 24);
        let button = view["blocks"][0]["elements"][0]["text"]["text"]
            .as_str()
            .unwrap();
        assert_eq!(button.chars().count(), MAX_BUTTON_TEXT);
    }
}
