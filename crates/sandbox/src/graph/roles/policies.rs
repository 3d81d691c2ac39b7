//! `/policies/roleManagementPolicies` and `/policies/roleManagementPolicyAssignments`
//! for PIM for Groups (docs/architecture.md, "PIM for Groups"): two policies
//! per PIM-managed group (`member` and `owner`), each with the 17 rules of the
//! documented Example 3, rendered from [`GroupPolicy`] — the same model
//! activation enforces.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::SimState;
use crate::graph::auth::{Caller, Permission};
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{Expand, ODataQuery, Supported};
use crate::graph::pim::{self, policy::GroupPolicy, policy::policy_id};
use crate::world::{Group, World};

use super::rules::rules;

/// Group-scoped PIM policies: policyroot-list-rolemanagementpolicies,
/// delegated and application alike.
const POLICY_READ: Permission = Permission {
    delegated: &[
        "RoleManagementPolicy.Read.AzureADGroup",
        "RoleManagementPolicy.ReadWrite.AzureADGroup",
    ],
    application: Some(&[
        "RoleManagementPolicy.Read.AzureADGroup",
        "RoleManagementPolicy.ReadWrite.AzureADGroup",
    ]),
};

const ACCESS_IDS: [&str; 2] = ["member", "owner"];

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/policies/roleManagementPolicies", get(list_policies))
        .route("/policies/roleManagementPolicies/{id}", get(get_policy))
        .route(
            "/policies/roleManagementPolicies/{id}/rules",
            get(list_rules),
        )
        .route(
            "/policies/roleManagementPolicies/{id}/rules/{rule}",
            get(get_rule),
        )
        .route(
            "/policies/roleManagementPolicyAssignments",
            get(list_assignments),
        )
        .route(
            "/policies/roleManagementPolicyAssignments/{id}",
            get(get_assignment),
        )
}

fn policy_json(group: &Group, access_id: &str) -> Value {
    json!({
        "id": policy_id(&group.id, access_id),
        "displayName": "Group",
        "description": "Group",
        "isOrganizationDefault": false,
        "scopeId": group.id,
        "scopeType": "Group",
        "lastModifiedDateTime": null,
        "lastModifiedBy": { "displayName": null, "id": null },
    })
}

/// Applies `$expand=rules` / `effectiveRules`, honouring a nested
/// `$select` (`rules($select=id)` as in Example 3).
fn expand_rules(policy: &mut Value, group: &Group, access_id: &str, expand: &[Expand]) {
    for item in expand {
        let name = if item.name.eq_ignore_ascii_case("rules") {
            "rules"
        } else if item.name.eq_ignore_ascii_case("effectiveRules") {
            "effectiveRules"
        } else {
            continue;
        };
        let select: Option<Vec<String>> = item.options.as_deref().and_then(|o| {
            o.split(';')
                .find_map(|opt| opt.trim().strip_prefix("$select="))
                .map(|s| s.split(',').map(|f| f.trim().to_owned()).collect())
        });
        let rules: Vec<Value> = rules(&GroupPolicy::of(group, access_id))
            .into_iter()
            .map(|mut rule| {
                if let (Some(select), Value::Object(map)) = (&select, &mut rule) {
                    map.retain(|k, _| k == "id" || k.starts_with("@odata") || select.contains(k));
                }
                rule
            })
            .collect();
        if let Value::Object(map) = policy {
            map.insert(name.into(), Value::Array(rules));
        }
    }
}

/// Every group policy (and its group and access id) in the tenant.
fn all_policies(world: &World) -> Vec<(&Group, &'static str)> {
    world
        .groups
        .values()
        .filter(|g| g.pim.is_some())
        .flat_map(|g| ACCESS_IDS.into_iter().map(move |a| (g, a)))
        .collect()
}

/// The list endpoints require `scopeId eq '…' and scopeType eq 'Group'`
/// ("for groups scopeType must be Group"); the Directory scope (Entra
/// roles) is not emulated and says so.
fn require_scope(query: &ODataQuery) -> GraphResult<()> {
    let filter = query.filter.as_ref();
    let scope_id = filter.and_then(|f| f.equality_on("scopeId"));
    let scope_type = filter.and_then(|f| f.equality_on("scopeType"));
    match (scope_id, scope_type) {
        (Some(_), Some(t)) if t.eq_ignore_ascii_case("Group") => Ok(()),
        (Some(_), Some(t)) if t.eq_ignore_ascii_case("Directory") => Err(GraphError::bad_request(
            "The sandbox emulates PIM policies of groups only (scopeType 'Group'); scopeType 'Directory' is not emulated.",
        )),
        (Some(_), Some(t)) => Err(GraphError::bad_request(format!(
            "The scopeType '{t}' is not valid; expected 'Group' or 'Directory'."
        ))),
        _ => Err(GraphError::bad_request(
            "The request requires a $filter on scopeId and scopeType (for example scopeId eq '{groupId}' and scopeType eq 'Group').",
        )),
    }
}

fn context(state: &SimState, set: &str) -> String {
    state.graph_url(&format!("/$metadata#policies/{set}"))
}

fn with_context(body: Value, context: String) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    if let Value::Object(map) = body {
        out.extend(map);
    }
    Value::Object(out)
}

const POLICY_EXPANDS: &[&str] = &["rules", "effectiveRules"];

/// List group policies. Permission: `RoleManagementPolicy.Read.AzureADGroup`
/// (or ReadWrite), delegated or application; `$filter` on scopeId and
/// scopeType required.
async fn list_policies(
    State(state): State<SimState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    pim::require(&caller, &POLICY_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST.with_expand(POLICY_EXPANDS))?;
    require_scope(&query)?;
    let items: Vec<Value> = {
        let world = state.world();
        all_policies(&world)
            .into_iter()
            .map(|(group, access)| {
                let mut policy = policy_json(group, access);
                expand_rules(&mut policy, group, access, &query.expand);
                policy
            })
            .collect()
    };
    let url = state.graph_url("/policies/roleManagementPolicies");
    Ok(Json(with_context(
        query.collection(items, &url),
        context(&state, "roleManagementPolicies"),
    )))
}

fn find_policy<'w>(world: &'w World, id: &str) -> GraphResult<(&'w Group, &'static str)> {
    all_policies(world)
        .into_iter()
        .find(|(g, a)| policy_id(&g.id, a) == id)
        .ok_or_else(|| GraphError::not_found(format!("The policy '{id}' was not found.")))
}

/// Get one group policy. Permission as for the list.
async fn get_policy(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    pim::require(&caller, &POLICY_READ)?;
    let query = ODataQuery::parse(
        raw.as_deref(),
        Supported::ENTITY.with_expand(POLICY_EXPANDS),
    )?;
    let policy = {
        let world = state.world();
        let (group, access) = find_policy(&world, &id)?;
        let mut policy = policy_json(group, access);
        expand_rules(&mut policy, group, access, &query.expand);
        policy
    };
    Ok(Json(with_context(
        query.project(policy),
        format!("{}/$entity", context(&state, "roleManagementPolicies")),
    )))
}

/// List a policy's rules. Permission as for the list.
async fn list_rules(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    pim::require(&caller, &POLICY_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST)?;
    let items = {
        let world = state.world();
        let (group, access) = find_policy(&world, &id)?;
        rules(&GroupPolicy::of(group, access))
    };
    let url = state.graph_url(&format!("/policies/roleManagementPolicies/{id}/rules"));
    Ok(Json(with_context(
        query.collection(items, &url),
        context(&state, &format!("roleManagementPolicies('{id}')/rules")),
    )))
}

/// Get one rule of a policy. Permission as for the list.
async fn get_rule(
    State(state): State<SimState>,
    caller: Caller,
    Path((id, rule_id)): Path<(String, String)>,
) -> GraphResult<Json<Value>> {
    pim::require(&caller, &POLICY_READ)?;
    let rule = {
        let world = state.world();
        let (group, access) = find_policy(&world, &id)?;
        rules(&GroupPolicy::of(group, access))
            .into_iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(rule_id.as_str()))
    };
    let rule =
        rule.ok_or_else(|| GraphError::not_found(format!("The rule '{rule_id}' was not found.")))?;
    Ok(Json(with_context(
        rule,
        context(
            &state,
            &format!("roleManagementPolicies('{id}')/rules/$entity"),
        ),
    )))
}

fn assignment_json(group: &Group, access: &str) -> Value {
    let policy = policy_id(&group.id, access);
    json!({
        "id": format!("{policy}_{access}"),
        "policyId": policy,
        "scopeId": group.id,
        "scopeType": "Group",
        "roleDefinitionId": access,
    })
}

/// `$expand=policy` or `policy($expand=rules)` on an assignment.
fn expand_policy(item: &mut Value, group: &Group, access: &str, query: &ODataQuery) {
    let Some(expand) = query
        .expand
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case("policy"))
    else {
        return;
    };
    let mut policy = policy_json(group, access);
    if let Some(options) = expand.options.as_deref()
        && let Some(inner) = options.trim().strip_prefix("$expand=")
    {
        let nested = ODataQuery::parse(
            Some(&format!("$expand={inner}")),
            Supported::ENTITY.with_expand(POLICY_EXPANDS),
        )
        .map(|q| q.expand)
        .unwrap_or_default();
        expand_rules(&mut policy, group, access, &nested);
    }
    if let Value::Object(map) = item {
        map.insert("policy".into(), policy);
    }
}

/// List policy assignments (which policy governs a group's `member` /
/// `owner` role). Permission as for policies; scope filter required.
async fn list_assignments(
    State(state): State<SimState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    pim::require(&caller, &POLICY_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST.with_expand(&["policy"]))?;
    require_scope(&query)?;
    let items: Vec<Value> = {
        let world = state.world();
        all_policies(&world)
            .into_iter()
            .map(|(group, access)| {
                let mut item = assignment_json(group, access);
                expand_policy(&mut item, group, access, &query);
                item
            })
            .collect()
    };
    let url = state.graph_url("/policies/roleManagementPolicyAssignments");
    Ok(Json(with_context(
        query.collection(items, &url),
        context(&state, "roleManagementPolicyAssignments"),
    )))
}

/// Get one policy assignment. Permission as for policies.
async fn get_assignment(
    State(state): State<SimState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    pim::require(&caller, &POLICY_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::ENTITY.with_expand(&["policy"]))?;
    let item = {
        let world = state.world();
        all_policies(&world)
            .into_iter()
            .find(|(g, a)| format!("{}_{a}", policy_id(&g.id, a)) == id)
            .map(|(group, access)| {
                let mut item = assignment_json(group, access);
                expand_policy(&mut item, group, access, &query);
                item
            })
    };
    let item = item.ok_or_else(|| {
        GraphError::not_found(format!("The policy assignment '{id}' was not found."))
    })?;
    Ok(Json(with_context(
        query.project(item),
        format!(
            "{}/$entity",
            context(&state, "roleManagementPolicyAssignments")
        ),
    )))
}
