//! The Teams app package and the Slack app manifest: rendered manifests
//! validated against Microsoft's and Slack's own schemas (from the shared
//! reference, never fetched), the icons, and `stagegate manifest …` as a
//! process.

mod cli;
mod icons;
mod slack;
mod teams;

use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde_json::Value;

/// A file of the shared reference. It sits beside the checkout (`../shared`);
/// a git worktree one level deeper finds it one level further up.
pub fn shared(relative: &str) -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared"))
        .find(|dir| dir.join(relative).exists())
        .map(|dir| dir.join(relative))
        .unwrap_or_else(|| panic!("shared/{relative} not found beside {manifest_dir:?}"))
}

pub fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// A draft-07 validator for `schema`. The Teams schema declares draft-04 but
/// uses draft-06's `const` (for `manifestVersion`), which a draft-04
/// validator silently ignores (docs/architecture.md, "Teams app manifest"),
/// so the declared draft is dropped and draft-07 semantics apply; the Slack
/// schema is draft-07 anyway.
/// Remote `$ref`s cannot be fetched (the crate is built without its resolver
/// features) and none of the schemas used here has one.
pub fn draft7(mut schema: Value) -> Validator {
    if let Some(map) = schema.as_object_mut() {
        map.remove("$schema");
    }
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

/// Every validation error, with where it is, for assertion messages.
pub fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub fn teams_validator() -> Validator {
    draft7(load_json(&shared("teams/MicrosoftTeams.v1.30.schema.json")))
}

pub fn slack_validator() -> Validator {
    draft7(load_json(&shared(
        "slack/manifest-schema/schemas/manifest.schema.1.0.0.json",
    )))
}
