//! Validates request bodies against the Bot Connector v3 swagger
//! (`botframework-connector-v3.swagger.json`, copied byte for byte from
//! microsoft/botframework-sdk `specs/botframework-protocol/botframework-channel.json`
//! @ ed8adc2; see `shared/teams/SOURCES.md`).
//!
//! The swagger declares no required properties; it fixes types, enums and
//! formats. Unknown properties are accepted (Activity protocol A2005).
//! A schema that says `"type": "object"` with no properties (`value`,
//! `channelData`, `Attachment.content`) is C#'s `object` in the generated
//! SDKs, i.e. any JSON value, so it is not narrowed to JSON objects.
//! `null` is accepted for any optional property, as .NET's deserializer does.

use std::sync::LazyLock;

use serde_json::Value;

static SWAGGER: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("botframework-connector-v3.swagger.json"))
        .expect("the bundled swagger is valid JSON")
});

/// Deep enough for any real activity; deeper input is refused, not recursed.
const MAX_DEPTH: usize = 32;

/// Checks `value` against `#/definitions/{definition}`; the error names the
/// offending property path.
pub fn validate(definition: &str, value: &Value) -> Result<(), String> {
    let schema = definition_schema(definition)
        .ok_or_else(|| format!("unknown swagger definition {definition}"))?;
    if !value.is_object() {
        return Err(format!("the body must be a JSON object ({definition})"));
    }
    check(schema, value, "", 0)
}

fn definition_schema(name: &str) -> Option<&'static Value> {
    SWAGGER.get("definitions")?.get(name)
}

fn check(schema: &Value, value: &Value, path: &str, depth: usize) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("{}: nested too deeply", display(path)));
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        let target =
            definition_schema(name).ok_or_else(|| format!("unknown swagger reference {name}"))?;
        return check(target, value, path, depth + 1);
    }
    if value.is_null() {
        return Ok(());
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
            return Err(format!(
                "{}: {value} is not one of {}",
                display(path),
                names.join(", ")
            ));
        }
        return Ok(());
    }
    let kind = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("object");
    match kind {
        "object" => check_object(schema, value, path, depth),
        "array" => {
            let items = value
                .as_array()
                .ok_or_else(|| expected(path, "an array", value))?;
            let Some(item_schema) = schema.get("items") else {
                return Ok(());
            };
            for (i, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{path}[{i}]"), depth + 1)?;
            }
            Ok(())
        }
        "string" => {
            let s = value
                .as_str()
                .ok_or_else(|| expected(path, "a string", value))?;
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") if chrono::DateTime::parse_from_rfc3339(s).is_err() => Err(
                    format!("{}: '{s}' is not an ISO 8601 date-time", display(path)),
                ),
                _ => Ok(()),
            }
        }
        "boolean" if value.is_boolean() => Ok(()),
        "boolean" => Err(expected(path, "a boolean", value)),
        "integer" if value.is_i64() || value.is_u64() => Ok(()),
        "integer" => Err(expected(path, "an integer", value)),
        "number" if value.is_number() => Ok(()),
        "number" => Err(expected(path, "a number", value)),
        _ => Ok(()),
    }
}

fn check_object(schema: &Value, value: &Value, path: &str, depth: usize) -> Result<(), String> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    if properties.is_none() && additional.is_none() {
        // Free-form `object`: any JSON value (see the module docs).
        return Ok(());
    }
    let object = value
        .as_object()
        .ok_or_else(|| expected(path, "an object", value))?;
    for (name, item) in object {
        let child = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        match properties.and_then(|p| p.get(name)) {
            Some(property) => check(property, item, &child, depth + 1)?,
            None => {
                if let Some(extra) = additional.filter(|a| a.is_object()) {
                    check(extra, item, &child, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

fn expected(path: &str, what: &str, got: &Value) -> String {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!("{}: expected {what}, got {got}", display(path))
}

fn display(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accepts_a_card_message_and_unknown_fields() {
        let activity = json!({
            "type": "message",
            "attachments": [{ "contentType": "application/vnd.microsoft.card.adaptive",
                              "content": { "type": "AdaptiveCard", "version": "1.5" } }],
            "futureField": { "anything": true },
            "value": "a string is fine: value is C# object",
        });
        assert_eq!(validate("Activity", &activity), Ok(()));
    }

    #[test]
    fn refuses_wrong_types_enums_and_dates() {
        let cases = [
            (json!({ "type": "mesage" }), "type"),
            (json!({ "type": "message", "text": 5 }), "text"),
            (
                json!({ "type": "message", "attachments": {} }),
                "attachments",
            ),
            (
                json!({ "type": "message", "attachments": [{ "contentType": 1 }] }),
                "attachments[0].contentType",
            ),
            (
                json!({ "type": "message", "timestamp": "yesterday" }),
                "timestamp",
            ),
            (
                json!({ "type": "message", "from": { "id": ["x"] } }),
                "from.id",
            ),
        ];
        for (activity, path) in cases {
            let error = validate("Activity", &activity).unwrap_err();
            assert!(error.starts_with(path), "{error} should name {path}");
        }
        assert!(validate("Activity", &json!([])).is_err());
        let params = json!({ "isGroup": "yes" });
        assert!(validate("ConversationParameters", &params).is_err());
    }
}
