//! `assignmentPolicies`, `assignmentPolicies/{id}`, and the unsupported
//! `accessPackages/{id}/assignmentPolicies` path.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{EM_READ, catalog_json, not_found, package_json, policy_json, set};
use crate::SimState;
use crate::graph::auth::Caller;
use crate::graph::directory::query::{
    check_filter_paths, check_select, context, expand_of, nested, with_context,
};
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::{AssignmentPolicy, Question, World};

const POLICY_TYPE: &str = "microsoft.graph.accessPackageAssignmentPolicy";
/// The policy's navigations in the v1.0 CSDL.
pub const POLICY_EXPANDS: &[&str] = &[
    "accessPackage",
    "catalog",
    "questions",
    "customExtensionStageSettings",
];

fn sequence(question: &Question) -> i32 {
    match question {
        Question::TextInput { sequence, .. } | Question::MultipleChoice { sequence, .. } => {
            *sequence
        }
    }
}

/// A policy with whatever `$expand` asks for, then `$select`.
pub fn expanded_policy(
    world: &World,
    policy: &AssignmentPolicy,
    query: &ODataQuery,
) -> GraphResult<Value> {
    let mut value = policy_json(policy);
    check_select(query, &value, POLICY_TYPE)?;
    let Value::Object(map) = &mut value else {
        return Ok(value);
    };
    if let Some(expand) = expand_of(query, "accessPackage") {
        let inner = nested(expand, Supported::ENTITY)?;
        let package = world
            .access_packages
            .get(&policy.access_package_id)
            .map(|p| inner.project(package_json(p)))
            .unwrap_or(Value::Null);
        map.insert("accessPackage".into(), package);
    }
    if let Some(expand) = expand_of(query, "catalog") {
        let inner = nested(expand, Supported::ENTITY)?;
        let catalog = world
            .catalogs
            .get(&policy.catalog_id)
            .map(|c| inner.project(catalog_json(c)))
            .unwrap_or(Value::Null);
        map.insert("catalog".into(), catalog);
    }
    if let Some(expand) = expand_of(query, "questions") {
        let inner = nested(expand, Supported::ENTITY)?;
        let mut questions: Vec<&Question> = policy.questions.iter().collect();
        questions.sort_by_key(|q| sequence(q));
        let rendered = questions
            .into_iter()
            .map(|q| serde_json::to_value(q).map(|v| inner.project(v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| GraphError::bad_request("A question could not be rendered."))?;
        map.insert("questions".into(), Value::Array(rendered));
    }
    if let Some(expand) = expand_of(query, "customExtensionStageSettings") {
        // Validated here; filled by `fill_stage_settings` once the world
        // lock is released (the bindings live in the notify state).
        nested(expand, Supported::ENTITY.with_expand(&["customExtension"]))?;
        map.insert("customExtensionStageSettings".into(), json!([]));
    }
    Ok(query.project(value))
}

/// Replaces the placeholder `customExtensionStageSettings` of a rendered
/// policy with the policy's custom-extension bindings.
fn fill_stage_settings(state: &SimState, query: &ODataQuery, policy: &mut Value) {
    let Some(expand) = expand_of(query, "customExtensionStageSettings") else {
        return;
    };
    let with_extension = expand
        .options
        .as_deref()
        .is_some_and(|o| o.contains("customExtension"));
    if let Some(id) = policy.get("id").and_then(Value::as_str).map(str::to_owned) {
        policy["customExtensionStageSettings"] =
            crate::graph::custom_extensions::stage_settings_json(state, &id, with_extension);
    }
}

/// `GET …/assignmentPolicies`, with `$filter` (also on `accessPackage/id`
/// and `catalog/id`), `$select`, `$top` and `$expand`.
/// `EntitlementManagement.Read.All` or `.ReadWrite.All`, delegated or application.
pub async fn list(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&EM_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST.with_expand(POLICY_EXPANDS))?;
    let items = {
        let world = state.world();
        let mut items = Vec::new();
        for policy in world.policies.values() {
            // Filters may reach into the package or catalog unexpanded.
            let mut probe = policy_json(policy);
            probe["accessPackage"] = json!({ "id": policy.access_package_id });
            probe["catalog"] = json!({ "id": policy.catalog_id });
            if let Some(filter) = &query.filter {
                check_filter_paths(filter, &probe, POLICY_TYPE)?;
                if !filter.matches(&probe) {
                    continue;
                }
            }
            items.push(expanded_policy(&world, policy, &query)?);
        }
        items
    };
    let mut items = items;
    for item in &mut items {
        fill_stage_settings(&state, &query, item);
    }
    let paged = ODataQuery {
        filter: None,
        ..query.clone()
    };
    let url = state.graph_url(&format!("{}/assignmentPolicies", super::EM));
    Ok(Json(with_context(
        paged.collection(items, &url),
        context(&state, &set("assignmentPolicies"), &query, false),
    )))
}

/// `GET …/assignmentPolicies/{id}`, with `$select` and `$expand`.
/// `EntitlementManagement.Read.All` or `.ReadWrite.All`, delegated or application.
pub async fn get(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&EM_READ)?;
    let query = ODataQuery::parse(
        raw.as_deref(),
        Supported::ENTITY.with_expand(POLICY_EXPANDS),
    )?;
    let body = {
        let world = state.world();
        let policy = world
            .policies
            .get(&id)
            .ok_or_else(|| not_found("Access package assignment policy", &id))?;
        expanded_policy(&world, policy, &query)?
    };
    let mut body = body;
    fill_stage_settings(&state, &query, &mut body);
    Ok(Json(with_context(
        body,
        context(&state, &set("assignmentPolicies"), &query, true),
    )))
}

/// `GET …/accessPackages/{id}/assignmentPolicies`: present in the v1.0 CSDL
/// but not served by the entitlement-management workload, which answers 404
/// "No HTTP resource was found that matches the request URI …" (reported in
/// microsoftgraph/msgraph-sdk-powershell #2505, #3293 — still open in 2026 —
/// and msgraph-metadata #338). Reproduced so that nothing built against the
/// sandbox depends on it; use `accessPackages/{id}?$expand=assignmentPolicies`
/// or `assignmentPolicies?$filter=accessPackage/id eq '…'`.
/// Any authenticated caller gets the same answer.
pub async fn package_policies(_caller: Caller, Path(id): Path<String>) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "",
        format!(
            "No HTTP resource was found that matches the request URI 'https://igaelm-asev3-ecapi-neu.igaelm-asev3-environment-neu.p.azurewebsites.net/api/v1/accessPackages('{id}')/assignmentPolicies'."
        ),
    )
}
