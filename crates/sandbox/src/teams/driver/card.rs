//! What a Teams client does when a person clicks an `Action.Execute`
//! button: find the action, gather the card's inputs (validating
//! `isRequired` as the client would), merge them with the action's `data`.

use serde_json::{Map, Value, json};

/// The action a click targets: by `verb` or `id`, or the only one.
pub(super) fn find_action<'a>(
    card: &'a Value,
    verb: Option<&str>,
    id: Option<&str>,
) -> Result<&'a Value, String> {
    let mut actions = Vec::new();
    walk(card, &mut |node| {
        if node.get("type").and_then(Value::as_str) == Some("Action.Execute") {
            actions.push(node);
        }
    });
    let matching: Vec<&Value> = actions
        .into_iter()
        .filter(|a| verb.is_none_or(|v| a.get("verb").and_then(Value::as_str) == Some(v)))
        .filter(|a| id.is_none_or(|i| a.get("id").and_then(Value::as_str) == Some(i)))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err("the card has no such Action.Execute button".into()),
        _ => Err("several Action.Execute buttons match; name one by verb or id".into()),
    }
}

/// The invoke `value.action.data`: the action's `data` plus the card's
/// inputs (`associatedInputs: "none"` gathers none), defaults from each
/// input's `value`, then the person's entries.
pub(super) fn gather(
    card: &Value,
    action: &Value,
    entries: &Map<String, Value>,
) -> Result<Value, String> {
    let mut inputs = Vec::new();
    walk(card, &mut |node| {
        let is_input = node
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("Input."));
        if is_input && node.get("id").and_then(Value::as_str).is_some() {
            inputs.push(node);
        }
    });
    for key in entries.keys() {
        if !inputs
            .iter()
            .any(|i| i.get("id").and_then(Value::as_str) == Some(key))
        {
            return Err(format!("the card has no input `{key}`"));
        }
    }
    let mut data = match action.get("data") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    if action.get("associatedInputs").and_then(Value::as_str) == Some("none") {
        return Ok(Value::Object(data));
    }
    for input in inputs {
        let id = input.get("id").and_then(Value::as_str).unwrap_or_default();
        let value = match entries.get(id) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(format!(
                    "input `{id}`: Adaptive Card input values are strings"
                ));
            }
            None => input.get("value").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        };
        // Clients accept any character, spaces included (docs/architecture.md,
        // "Teams activities and cards"), so only an empty value fails
        // `isRequired`.
        let required = input.get("isRequired").and_then(Value::as_bool) == Some(true);
        if required && value.as_deref().is_none_or(str::is_empty) {
            let message = input
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("This field is required.");
            return Err(format!("input `{id}` is required: {message}"));
        }
        if let Some(value) = value {
            data.insert(id.to_owned(), json!(value));
        }
    }
    Ok(Value::Object(data))
}

/// Visits every object in the card, skipping `fallback` content (shown only
/// by clients that cannot render the primary element) and the `refresh`
/// action (the client runs it, nobody clicks it).
fn walk<'a>(node: &'a Value, visit: &mut dyn FnMut(&'a Value)) {
    match node {
        Value::Object(map) => {
            visit(node);
            for (key, child) in map {
                if key != "fallback" && key != "refresh" {
                    walk(child, visit);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, visit)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> Value {
        serde_json::from_str(include_str!(
            "../../../../../tests/fixtures/teams/adaptive-card-Action.Execute.With.Validation.json"
        ))
        .unwrap()
    }

    #[test]
    fn finds_actions_by_verb_and_refuses_ambiguity() {
        let card = card();
        let action = find_action(&card, Some("doStuff"), None).unwrap();
        assert_eq!(action["data"]["x"], 13);
        assert!(find_action(&card, None, None).is_err());
        assert!(find_action(&card, Some("nope"), None).is_err());
    }

    #[test]
    fn gathers_inputs_and_enforces_is_required() {
        let card = card();
        let action = find_action(&card, Some("doStuff"), None).unwrap();
        let entries = json!({ "firstName": "Alex", "lastName": " " });
        let data = gather(&card, action, entries.as_object().unwrap()).unwrap();
        assert_eq!(
            data,
            json!({ "x": 13, "firstName": "Alex", "lastName": " " })
        );
        let missing = json!({ "lastName": "W" });
        assert!(gather(&card, action, missing.as_object().unwrap()).is_err());
        let unknown = json!({ "firstName": "A", "age": "3" });
        assert!(gather(&card, action, unknown.as_object().unwrap()).is_err());
        let none = find_action(&card, Some("doActionSetStuff"), None).unwrap();
        let data = gather(&card, none, &Map::new()).unwrap();
        assert_eq!(data, json!({ "y": -1 }));
    }
}
