//! `catalogs`, `catalogs/{id}`, `accessPackages`, `accessPackages/{id}`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::Value;

use super::policies::expanded_policy;
use super::{EM_READ, catalog_json, not_found, package_json, role_scopes, set};
use crate::SimState;
use crate::graph::auth::Caller;
use crate::graph::directory::query::{
    check_filter_paths, check_select, context, expand_of, nested, with_context,
};
use crate::graph::error::GraphResult;
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::{AccessPackage, World};

const CATALOG_TYPE: &str = "microsoft.graph.accessPackageCatalog";
const PACKAGE_TYPE: &str = "microsoft.graph.accessPackage";
const PACKAGE_EXPANDS: &[&str] = &["assignmentPolicies", "catalog", "resourceRoleScopes"];

/// Filters `items` (rendered entities), projects them, and pages.
fn collection(state: &SimState, query: &ODataQuery, items: Vec<Value>, name: &str) -> Json<Value> {
    let body = query.collection(items, &state.graph_url(&format!("{}/{name}", super::EM)));
    Json(with_context(body, context(state, &set(name), query, false)))
}

/// `GET …/catalogs`. `EntitlementManagement.Read.All` or
/// `EntitlementManagement.ReadWrite.All`, delegated or application.
pub async fn list_catalogs(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&EM_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST)?;
    let items: Vec<Value> = state.world().catalogs.values().map(catalog_json).collect();
    if let Some(sample) = items.first() {
        check_select(&query, sample, CATALOG_TYPE)?;
        if let Some(filter) = &query.filter {
            check_filter_paths(filter, sample, CATALOG_TYPE)?;
        }
    }
    Ok(collection(&state, &query, items, "catalogs"))
}

/// `GET …/catalogs/{id}`. `EntitlementManagement.Read.All` or
/// `EntitlementManagement.ReadWrite.All`, delegated or application.
pub async fn get_catalog(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&EM_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::ENTITY)?;
    let catalog = state
        .world()
        .catalogs
        .get(&id)
        .map(catalog_json)
        .ok_or_else(|| not_found("Catalog", &id))?;
    check_select(&query, &catalog, CATALOG_TYPE)?;
    Ok(Json(with_context(
        query.project(catalog),
        context(&state, &set("catalogs"), &query, true),
    )))
}

/// A package with whatever `$expand` asks for.
fn expanded_package(
    world: &World,
    package: &AccessPackage,
    query: &ODataQuery,
) -> GraphResult<Value> {
    let mut value = package_json(package);
    check_select(query, &value, PACKAGE_TYPE)?;
    let Value::Object(map) = &mut value else {
        return Ok(value);
    };
    if let Some(expand) = expand_of(query, "catalog") {
        let inner = nested(expand, Supported::ENTITY)?;
        let catalog = world
            .catalogs
            .get(&package.catalog_id)
            .map(|c| inner.project(catalog_json(c)))
            .unwrap_or(Value::Null);
        map.insert("catalog".into(), catalog);
    }
    if let Some(expand) = expand_of(query, "assignmentPolicies") {
        let inner = nested(
            expand,
            Supported::ENTITY.with_expand(super::policies::POLICY_EXPANDS),
        )?;
        let policies = world
            .policies
            .values()
            .filter(|p| p.access_package_id == package.id)
            .map(|p| expanded_policy(world, p, &inner))
            .collect::<GraphResult<Vec<_>>>()?;
        map.insert("assignmentPolicies".into(), Value::Array(policies));
    }
    if let Some(expand) = expand_of(query, "resourceRoleScopes") {
        let inner = nested(expand, Supported::ENTITY.with_expand(&["role", "scope"]))?;
        for name in ["role", "scope"] {
            if let Some(e) = expand_of(&inner, name) {
                // `role(…)` / `scope(…)` take no options of their own here.
                nested(e, Supported::NONE)?;
            }
        }
        let scopes = role_scopes(
            world,
            package,
            inner.expands("role"),
            inner.expands("scope"),
        )
        .into_iter()
        .map(|s| inner.project(s))
        .collect();
        map.insert("resourceRoleScopes".into(), Value::Array(scopes));
    }
    Ok(query.project(value))
}

/// `GET …/accessPackages` (hidden packages included, `isHidden: true`),
/// with `$filter` (also on `catalog/id`), `$select`, `$top` and
/// `$expand=assignmentPolicies|catalog|resourceRoleScopes(…)`.
/// `EntitlementManagement.Read.All` or `.ReadWrite.All`, delegated or application.
pub async fn list_packages(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&EM_READ)?;
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST.with_expand(PACKAGE_EXPANDS))?;
    let items = {
        let world = state.world();
        let mut items = Vec::new();
        for package in world.access_packages.values() {
            // Filters may reach into the catalog even when it is not expanded.
            let mut probe = package_json(package);
            probe["catalog"] = serde_json::json!({ "id": package.catalog_id });
            if let Some(filter) = &query.filter {
                check_filter_paths(filter, &probe, PACKAGE_TYPE)?;
                if !filter.matches(&probe) {
                    continue;
                }
            }
            items.push(expanded_package(&world, package, &query)?);
        }
        items
    };
    let paged = ODataQuery {
        filter: None,
        ..query.clone()
    };
    let body = paged.collection(
        items,
        &state.graph_url(&format!("{}/accessPackages", super::EM)),
    );
    Ok(Json(with_context(
        body,
        context(&state, &set("accessPackages"), &query, false),
    )))
}

/// `GET …/accessPackages/{id}`, with `$select` and the same `$expand`s as
/// the list. `EntitlementManagement.Read.All` or `.ReadWrite.All`,
/// delegated or application.
pub async fn get_package(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&EM_READ)?;
    let query = ODataQuery::parse(
        raw.as_deref(),
        Supported::ENTITY.with_expand(PACKAGE_EXPANDS),
    )?;
    let body = {
        let world = state.world();
        let package = world
            .access_packages
            .get(&id)
            .ok_or_else(|| not_found("Access package", &id))?;
        expanded_package(&world, package, &query)?
    };
    Ok(Json(with_context(
        body,
        context(&state, &set("accessPackages"), &query, true),
    )))
}
