//! Block Kit validation as Slack applies it (docs/architecture.md, "Block Kit
//! limits"): a failure is `invalid_blocks` with each problem and its JSON
//! pointer, in the `[ERROR] … [json-pointer:/…]` style Slack uses for
//! `invalid_arguments`.
//! Written independently of the bot's `chat::slack::blocks` so that a wrong
//! limit there is caught here rather than mirrored.

use std::collections::BTreeSet;

use serde_json::Value;

pub const MESSAGE_BLOCKS: usize = 50;
pub const MODAL_BLOCKS: usize = 100;

/// Problems found, each "<what> [json-pointer:<where>]".
pub type Problems = Vec<String>;

fn problem(problems: &mut Problems, what: impl std::fmt::Display, pointer: &str) {
    problems.push(format!("{what} [json-pointer:{pointer}]"));
}

fn text_len(value: Option<&Value>) -> Option<usize> {
    value?.get("text")?.as_str().map(|s| s.chars().count())
}

fn check_text(
    problems: &mut Problems,
    value: Option<&Value>,
    pointer: &str,
    min: usize,
    max: usize,
    required: bool,
) {
    match value {
        None if required => problem(problems, "missing required field: text", pointer),
        None => {}
        Some(object) => {
            let kind = object.get("type").and_then(Value::as_str);
            if !matches!(kind, Some("plain_text" | "mrkdwn")) {
                problem(problems, "must be a text object", pointer);
                return;
            }
            match text_len(Some(object)) {
                None => problem(
                    problems,
                    "missing required field: text",
                    &format!("{pointer}/text"),
                ),
                Some(n) if n < min => problem(
                    problems,
                    format!("must be more than {} characters", min.saturating_sub(1)),
                    &format!("{pointer}/text"),
                ),
                Some(n) if n > max => problem(
                    problems,
                    format!("must be less than {} characters", max + 1),
                    &format!("{pointer}/text"),
                ),
                Some(_) => {}
            }
        }
    }
}

fn check_str(problems: &mut Problems, value: Option<&Value>, pointer: &str, max: usize) {
    if let Some(v) = value {
        match v.as_str() {
            Some(s) if s.chars().count() > max => problem(
                problems,
                format!("must be less than {} characters", max + 1),
                pointer,
            ),
            Some(_) => {}
            None => problem(problems, "must be a string", pointer),
        }
    }
}

/// Validates `blocks` of a message (`max` 50) or a modal (`max` 100).
pub fn validate(blocks: &Value, max: usize, base: &str) -> Result<(), Problems> {
    let mut problems = Problems::new();
    let Some(list) = blocks.as_array() else {
        problem(&mut problems, "must provide an array", base);
        return Err(problems);
    };
    if list.len() > max {
        problem(
            &mut problems,
            format!("no more than {max} items allowed"),
            base,
        );
    }
    let mut block_ids = BTreeSet::new();
    for (i, block) in list.iter().enumerate() {
        let pointer = format!("{base}/{i}");
        if let Some(id) = block.get("block_id").and_then(Value::as_str)
            && !block_ids.insert(id.to_owned())
        {
            problem(
                &mut problems,
                format!("duplicate block_id `{id}`"),
                &format!("{pointer}/block_id"),
            );
        }
        check_block(&mut problems, block, &pointer);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_block(problems: &mut Problems, block: &Value, pointer: &str) {
    let Some(kind) = block.get("type").and_then(Value::as_str) else {
        problem(problems, "missing required field: type", pointer);
        return;
    };
    check_str(
        problems,
        block.get("block_id"),
        &format!("{pointer}/block_id"),
        255,
    );
    match kind {
        "section" => {
            let fields = block.get("fields").and_then(Value::as_array);
            if block.get("text").is_none() && fields.is_none() {
                problem(problems, "must provide either text or fields", pointer);
            }
            check_text(
                problems,
                block.get("text"),
                &format!("{pointer}/text"),
                1,
                3000,
                false,
            );
            if let Some(fields) = fields {
                if fields.len() > 10 {
                    problem(
                        problems,
                        "no more than 10 items allowed",
                        &format!("{pointer}/fields"),
                    );
                }
                for (j, f) in fields.iter().enumerate() {
                    check_text(
                        problems,
                        Some(f),
                        &format!("{pointer}/fields/{j}"),
                        1,
                        2000,
                        true,
                    );
                }
            }
            if let Some(accessory) = block.get("accessory") {
                check_element(
                    problems,
                    accessory,
                    &format!("{pointer}/accessory"),
                    &mut BTreeSet::new(),
                );
            }
        }
        "header" => check_text(
            problems,
            block.get("text"),
            &format!("{pointer}/text"),
            1,
            150,
            true,
        ),
        "divider" => {}
        "context" => match block.get("elements").and_then(Value::as_array) {
            Some(e) if e.is_empty() || e.len() > 10 => problem(
                problems,
                "must have between 1 and 10 items",
                &format!("{pointer}/elements"),
            ),
            Some(_) => {}
            None => problem(problems, "missing required field: elements", pointer),
        },
        "actions" => match block.get("elements").and_then(Value::as_array) {
            Some(e) if e.is_empty() || e.len() > 25 => problem(
                problems,
                "must have between 1 and 25 items",
                &format!("{pointer}/elements"),
            ),
            Some(elements) => {
                let mut action_ids = BTreeSet::new();
                for (j, element) in elements.iter().enumerate() {
                    check_element(
                        problems,
                        element,
                        &format!("{pointer}/elements/{j}"),
                        &mut action_ids,
                    );
                }
            }
            None => problem(problems, "missing required field: elements", pointer),
        },
        "input" => {
            check_text(
                problems,
                block.get("label"),
                &format!("{pointer}/label"),
                1,
                2000,
                true,
            );
            check_text(
                problems,
                block.get("hint"),
                &format!("{pointer}/hint"),
                1,
                2000,
                false,
            );
            match block.get("element") {
                Some(element) => check_element(
                    problems,
                    element,
                    &format!("{pointer}/element"),
                    &mut BTreeSet::new(),
                ),
                None => problem(problems, "missing required field: element", pointer),
            }
        }
        "markdown" => check_str(
            problems,
            block.get("text"),
            &format!("{pointer}/text"),
            12_000,
        ),
        "image" | "rich_text" | "file" | "video" => {}
        other => problem(
            problems,
            format!("unsupported type: {other}"),
            &format!("{pointer}/type"),
        ),
    }
}

fn check_element(
    problems: &mut Problems,
    element: &Value,
    pointer: &str,
    action_ids: &mut BTreeSet<String>,
) {
    if let Some(id) = element.get("action_id").and_then(Value::as_str)
        && !action_ids.insert(id.to_owned())
    {
        problem(
            problems,
            format!("duplicate action_id `{id}`"),
            &format!("{pointer}/action_id"),
        );
    }
    check_str(
        problems,
        element.get("action_id"),
        &format!("{pointer}/action_id"),
        255,
    );
    match element.get("type").and_then(Value::as_str) {
        Some("button") => {
            check_text(
                problems,
                element.get("text"),
                &format!("{pointer}/text"),
                1,
                75,
                true,
            );
            check_str(
                problems,
                element.get("value"),
                &format!("{pointer}/value"),
                2000,
            );
            check_str(
                problems,
                element.get("url"),
                &format!("{pointer}/url"),
                3000,
            );
            if let Some(style) = element.get("style").and_then(Value::as_str)
                && !matches!(style, "primary" | "danger")
            {
                problem(
                    problems,
                    "must be one of primary, danger",
                    &format!("{pointer}/style"),
                );
            }
            if let Some(confirm) = element.get("confirm") {
                let p = format!("{pointer}/confirm");
                check_text(
                    problems,
                    confirm.get("title"),
                    &format!("{p}/title"),
                    1,
                    100,
                    true,
                );
                check_text(
                    problems,
                    confirm.get("text"),
                    &format!("{p}/text"),
                    1,
                    300,
                    true,
                );
                check_text(
                    problems,
                    confirm.get("confirm"),
                    &format!("{p}/confirm"),
                    1,
                    30,
                    true,
                );
                check_text(
                    problems,
                    confirm.get("deny"),
                    &format!("{p}/deny"),
                    1,
                    30,
                    true,
                );
            }
        }
        Some("plain_text_input") => {
            check_text(
                problems,
                element.get("placeholder"),
                &format!("{pointer}/placeholder"),
                1,
                150,
                false,
            );
            for key in ["min_length", "max_length"] {
                if let Some(v) = element.get(key)
                    && v.as_u64().is_none_or(|n| n > 3000)
                {
                    problem(
                        problems,
                        "must be an integer no more than 3000",
                        &format!("{pointer}/{key}"),
                    );
                }
            }
        }
        Some(_) => {}
        None => problem(problems, "missing required field: type", pointer),
    }
}

/// Validates a modal view object (docs/architecture.md, "Block Kit limits").
pub fn validate_view(view: &Value) -> Result<(), Problems> {
    let mut problems = Problems::new();
    if !view.is_object() {
        problem(&mut problems, "must provide an object", "/view");
        return Err(problems);
    }
    if view.get("type").and_then(Value::as_str) != Some("modal") {
        problem(&mut problems, "must be `modal`", "/view/type");
    }
    check_text(&mut problems, view.get("title"), "/view/title", 1, 24, true);
    check_text(
        &mut problems,
        view.get("submit"),
        "/view/submit",
        1,
        24,
        false,
    );
    check_text(
        &mut problems,
        view.get("close"),
        "/view/close",
        1,
        24,
        false,
    );
    check_str(
        &mut problems,
        view.get("private_metadata"),
        "/view/private_metadata",
        3000,
    );
    check_str(
        &mut problems,
        view.get("callback_id"),
        "/view/callback_id",
        255,
    );
    check_str(
        &mut problems,
        view.get("external_id"),
        "/view/external_id",
        255,
    );
    match view.get("blocks") {
        Some(blocks) => {
            if let Err(more) = validate(blocks, MODAL_BLOCKS, "/view/blocks") {
                problems.extend(more);
            }
            let has_input = blocks.as_array().is_some_and(|b| {
                b.iter()
                    .any(|b| b.get("type").and_then(Value::as_str) == Some("input"))
            });
            if has_input && view.get("submit").is_none() {
                problem(
                    &mut problems,
                    "submit is required when an input block is present",
                    "/view/submit",
                );
            }
        }
        None => problem(&mut problems, "missing required field: blocks", "/view"),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
