//! Query rules shared by the directory and entitlement-management handlers:
//! advanced-query detection, per-property `$filter` support, `$select`
//! validation, nested `$expand` options and `@odata.context` URLs.
//!
//! Directory objects answer unsupported filters with `Request_UnsupportedQuery`
//! and unknown property names with the OData layer's `BadRequest`; both
//! shapes come from Microsoft's "Advanced query capabilities on directory
//! objects" page (concepts/aad-advanced-queries.md).

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use crate::SimState;
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{Expand, Filter, ODataQuery, Op, Supported};

/// `ConsistencyLevel: eventual`, the header that turns on advanced queries.
pub fn eventual(headers: &HeaderMap) -> bool {
    headers
        .get("ConsistencyLevel")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("eventual"))
}

/// What `$filter` may do with one property by default (without advanced
/// query parameters). `eq` is always allowed for a listed property.
#[derive(Debug, Clone, Copy)]
pub struct PropRule {
    pub name: &'static str,
    pub starts_with: bool,
    /// `ge` / `le` (directory objects never support `gt` / `lt`).
    pub range: bool,
}

pub const fn prop(name: &'static str, starts_with: bool, range: bool) -> PropRule {
    PropRule {
        name,
        starts_with,
        range,
    }
}

/// Filter rules of one resource type.
#[derive(Debug, Clone, Copy)]
pub struct FilterRules {
    /// `microsoft.graph.user` (for the OData "no such property" message).
    pub odata_type: &'static str,
    /// `User` (for the directory's `Request_UnsupportedQuery` message).
    pub resource: &'static str,
    pub props: &'static [PropRule],
    /// Properties that exist on the type but cannot be filtered at all.
    pub known: &'static [&'static str],
}

fn no_such_property(name: &str, odata_type: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Could not find a property named '{name}' on type '{odata_type}'."
    ))
}

fn unsupported(message: String) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
}

fn unsupported_clause(name: &str, resource: &str) -> GraphError {
    unsupported(format!(
        "Unsupported or invalid query filter clause specified for property '{name}' of resource '{resource}'."
    ))
}

fn needs_advanced(operator: &str) -> GraphError {
    unsupported(format!(
        "Operator '{operator}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    ))
}

/// Checks a directory `$filter` against the property table of Microsoft's
/// advanced-query page; `advanced` = `ConsistencyLevel: eventual` and
/// `$count=true` were both sent.
pub fn check_directory_filter(
    filter: &Filter,
    rules: &FilterRules,
    advanced: bool,
) -> GraphResult<()> {
    let rule = |path: &str| -> GraphResult<PropRule> {
        if let Some(rule) = rules
            .props
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(path))
        {
            return Ok(*rule);
        }
        if rules.known.iter().any(|k| k.eq_ignore_ascii_case(path)) {
            return Err(unsupported_clause(path, rules.resource));
        }
        Err(no_such_property(path, rules.odata_type))
    };
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_directory_filter(a, rules, advanced)?;
            check_directory_filter(b, rules, advanced)
        }
        Filter::Not(inner) => {
            if !advanced {
                return Err(needs_advanced("not"));
            }
            check_directory_filter(inner, rules, advanced)
        }
        Filter::StartsWith { path, .. } => {
            let rule = rule(path)?;
            if rule.starts_with {
                Ok(())
            } else {
                Err(unsupported_clause(rule.name, rules.resource))
            }
        }
        Filter::Compare { path, op, .. } => {
            let rule = rule(path)?;
            match op {
                Op::Eq => Ok(()),
                Op::Ne if advanced => Ok(()),
                Op::Ne => Err(needs_advanced("ne")),
                Op::Ge | Op::Le if rule.range => Ok(()),
                _ => Err(unsupported_clause(rule.name, rules.resource)),
            }
        }
    }
}

/// Refuses `$select` names the rendered entity does not have.
pub fn check_select(query: &ODataQuery, sample: &Value, odata_type: &str) -> GraphResult<()> {
    let (Some(select), Some(map)) = (&query.select, sample.as_object()) else {
        return Ok(());
    };
    for name in select {
        if name.is_empty() {
            return Err(GraphError::bad_request("Syntax error: empty $select item."));
        }
        let known = map.keys().any(|k| k.eq_ignore_ascii_case(name))
            || query
                .expand
                .iter()
                .any(|e| e.name.eq_ignore_ascii_case(name));
        if !known {
            return Err(no_such_property(name, odata_type));
        }
    }
    Ok(())
}

/// Refuses `$filter` paths whose first segment the entity does not have
/// (for non-directory resources, where every property is filterable).
pub fn check_filter_paths(filter: &Filter, sample: &Value, odata_type: &str) -> GraphResult<()> {
    let check = |path: &str| {
        let head = path.split('/').next().unwrap_or_default();
        let known = sample
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case(head)));
        if known {
            Ok(())
        } else {
            Err(no_such_property(head, odata_type))
        }
    };
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_filter_paths(a, sample, odata_type)?;
            check_filter_paths(b, sample, odata_type)
        }
        Filter::Not(inner) => check_filter_paths(inner, sample, odata_type),
        Filter::StartsWith { path, .. } | Filter::Compare { path, .. } => check(path),
    }
}

/// Parses the options inside `$expand=name(…)`; OData separates them with
/// `;` where the top level uses `&`.
pub fn nested(expand: &Expand, supported: Supported) -> GraphResult<ODataQuery> {
    let raw = expand
        .options
        .as_deref()
        .map(|o| o.replace(';', "&"))
        .unwrap_or_default();
    ODataQuery::parse(Some(&raw), supported)
}

/// The expand item called `name`, if requested.
pub fn expand_of<'a>(query: &'a ODataQuery, name: &str) -> Option<&'a Expand> {
    query
        .expand
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(name))
}

/// `{graph}/$metadata#{set}` plus Graph's `(select,expand())` list and the
/// `/$entity` suffix for single entities.
pub fn context(state: &SimState, set: &str, query: &ODataQuery, entity: bool) -> String {
    let mut items: Vec<String> = query.select.clone().unwrap_or_default();
    if query.select.is_some() || !query.expand.is_empty() {
        items.extend(query.expand.iter().map(|e| format!("{}()", e.name)));
    }
    let mut out = format!("{}/$metadata#{set}", state.graph_url(""));
    if !items.is_empty() {
        out.push_str(&format!("({})", items.join(",")));
    }
    if entity {
        out.push_str("/$entity");
    }
    out
}

/// Puts `@odata.context` first-class into a response body.
pub fn with_context(mut body: Value, context: String) -> Value {
    if let Value::Object(map) = &mut body {
        map.insert("@odata.context".into(), Value::String(context));
    }
    body
}

/// Keeps only the `keys` of an entity (Graph's default property set), plus
/// `@odata.*` annotations.
pub fn only(item: &Value, keys: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(map) = item.as_object() {
        for (k, v) in map {
            if k.starts_with("@odata") || keys.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A stable GUID derived from `seed` (for ids Graph mints that the tenant
/// file does not name, such as resource roles and scopes).
pub fn derived_id(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    // Version 8 (custom) and RFC 4122 variant bits, so the text is a valid GUID.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: FilterRules = FilterRules {
        odata_type: "microsoft.graph.user",
        resource: "User",
        props: &[
            prop("mail", true, true),
            prop("accountEnabled", false, false),
        ],
        known: &["mobilePhone"],
    };

    fn check(text: &str, advanced: bool) -> GraphResult<()> {
        check_directory_filter(&Filter::parse(text).unwrap(), &RULES, advanced)
    }

    #[test]
    fn directory_filters_follow_the_property_table() {
        assert!(check("mail eq 'a' or startswith(mail,'b')", false).is_ok());
        assert!(check("accountEnabled eq true", false).is_ok());
        assert_eq!(
            check("accountEnabled ne true", false).unwrap_err().code,
            "Request_UnsupportedQuery"
        );
        assert!(check("accountEnabled ne true", true).is_ok());
        assert_eq!(
            check("startswith(accountEnabled,'t')", true)
                .unwrap_err()
                .code,
            "Request_UnsupportedQuery"
        );
        assert_eq!(
            check("mobilePhone eq '1'", false).unwrap_err().code,
            "Request_UnsupportedQuery"
        );
        assert_eq!(
            check("shoeSize eq 3", false).unwrap_err().code,
            "BadRequest"
        );
    }

    #[test]
    fn derived_ids_are_stable_guids() {
        let a = derived_id("role:x");
        assert_eq!(a, derived_id("role:x"));
        assert_ne!(a, derived_id("role:y"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }
}
