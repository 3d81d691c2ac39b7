//! The Teams app package and the Slack app manifest, rendered from the
//! templates in `manifests/` for one deployment (`stagegate manifest …`).
//!
//! The templates are JSON with `{{NAME}}` placeholders inside string values.
//! Rendering parses the template first and substitutes inside the parsed
//! strings, so a value can never break the JSON around it, and any
//! placeholder left unfilled is an error rather than a manifest that Teams or
//! Slack would reject later with a vaguer message.

mod command;
mod inputs;
mod slack;
mod teams;

pub use command::{ManifestTarget, run};
pub use inputs::{AppId, PublicUrl, UrlCheck};
pub use slack::{SLACK_TEMPLATE, render_slack_manifest};
pub use teams::{
    COLOR_ICON, OUTLINE_ICON, TEAMS_MANIFEST_VERSION, TEAMS_TEMPLATE, TeamsOptions,
    render_teams_manifest, teams_package,
};

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{0}")]
    Input(String),
    #[error("the {template} template is not valid JSON: {source}")]
    Template {
        template: &'static str,
        source: serde_json::Error,
    },
    #[error("the {template} template still has a placeholder after rendering: {found}")]
    Unfilled {
        template: &'static str,
        found: String,
    },
    #[error("cannot build the Teams app package: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Config {
        path: std::path::PathBuf,
        message: String,
    },
}

/// Parses `template` and replaces every `{{NAME}}` in its strings with the
/// value paired with `NAME`.
fn fill(
    template_name: &'static str,
    template: &str,
    values: &[(&str, &str)],
) -> Result<Value, ManifestError> {
    let mut manifest: Value =
        serde_json::from_str(template).map_err(|source| ManifestError::Template {
            template: template_name,
            source,
        })?;
    substitute(&mut manifest, values);
    if let Some(found) = leftover_placeholder(&manifest) {
        return Err(ManifestError::Unfilled {
            template: template_name,
            found,
        });
    }
    Ok(manifest)
}

fn substitute(value: &mut Value, values: &[(&str, &str)]) {
    match value {
        Value::String(text) => {
            for (name, replacement) in values {
                let placeholder = format!("{{{{{name}}}}}");
                if text.contains(&placeholder) {
                    *text = text.replace(&placeholder, replacement);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, values)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn leftover_placeholder(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => {
            let start = text.find("{{")?;
            let end = text[start..]
                .find("}}")
                .map_or(text.len(), |e| start + e + 2);
            Some(text[start..end].to_owned())
        }
        Value::Array(items) => items.iter().find_map(leftover_placeholder),
        Value::Object(map) => map.values().find_map(leftover_placeholder),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_substituted_inside_strings_without_breaking_json() {
        let filled = fill(
            "test",
            r#"{"a": "x{{V}}y", "b": ["{{V}}"]}"#,
            &[("V", "\"quoted\"")],
        )
        .unwrap();
        assert_eq!(filled["a"], "x\"quoted\"y");
        assert_eq!(filled["b"][0], "\"quoted\"");
    }

    #[test]
    fn an_unfilled_placeholder_is_an_error_naming_it() {
        let error = fill("test", r#"{"a": "{{MISSING}}"}"#, &[("OTHER", "v")]).unwrap_err();
        assert!(error.to_string().contains("{{MISSING}}"), "{error}");
    }
}
