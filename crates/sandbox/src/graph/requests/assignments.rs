//! `GET /identityGovernance/entitlementManagement/assignments[/{id}]` and
//! `…/assignments/filterByCurrentUser(on='target'|'createdBy')`: read-only
//! views of the `accessPackageAssignment`s delivered requests produced.

use axum::extract::{Path, RawQuery, State};
use axum::response::Json;
use serde_json::{Value, json};

use super::{FILTER_BY_CURRENT_USER, READ, function_argument, not_found, render};
use crate::SimState;
use crate::graph::auth::Caller;
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{ODataQuery, Supported};
use crate::world::{Assignment, World};

const ASSIGNMENTS: &str = "/identityGovernance/entitlementManagement/assignments";
const ASSIGNMENT_FILTERS: &[&str] = &[
    "id",
    "state",
    "status",
    "expiredDateTime",
    "target/objectId",
    "accessPackage/id",
];

/// `EntitlementManagement.Read.All` or `ReadWrite.All`, delegated or
/// application: every assignment in the tenant.
pub(super) async fn list(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&READ)?;
    let query = parse_list_query(raw.as_deref())?;
    let world = state.world();
    collection(&world, &state, &query, |_| true, ASSIGNMENTS)
}

/// `GET …/assignments/{id}` (`EntitlementManagement.Read.All` or
/// `ReadWrite.All`, delegated or application), and
/// `…/filterByCurrentUser(on='target'|'createdBy')` (delegated only).
pub(super) async fn get_one(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    if let Some(on) = function_argument(&id, "filterByCurrentUser", "on") {
        caller.require(&FILTER_BY_CURRENT_USER)?;
        let me = caller.require_user()?.to_owned();
        let query = parse_list_query(raw.as_deref())?;
        let world = state.world();
        let url = format!("{ASSIGNMENTS}/filterByCurrentUser(on='{on}')");
        return match on.as_str() {
            "target" => collection(&world, &state, &query, |a| a.target_id == me, &url),
            "createdBy" => {
                let created = |a: &Assignment| created_by(&world, a).is_some_and(|c| c == me);
                collection(&world, &state, &query, created, &url)
            }
            other => Err(GraphError::bad_request(format!(
                "The value '{other}' is not supported for parameter 'on'; supported values are 'target' and 'createdBy'."
            ))),
        };
    }
    caller.require(&READ)?;
    let query = ODataQuery::parse(
        raw.as_deref(),
        Supported::ENTITY.with_expand(render::ASSIGNMENT_EXPANDS),
    )?;
    let world = state.world();
    let a = world.assignments.get(&id).ok_or_else(|| not_found(&id))?;
    let mut item = query.project(render::assignment(&world, a, &query.expand)?);
    item["@odata.context"] = json!(format!(
        "{}/$metadata#identityGovernance/entitlementManagement/assignments/$entity",
        state.graph_url("")
    ));
    Ok(Json(item))
}

/// Who submitted the request that created the assignment.
fn created_by<'a>(world: &'a World, a: &Assignment) -> Option<&'a str> {
    world
        .requests
        .values()
        .find(|r| r.assignment_id.as_deref() == Some(&a.id) && r.request_type.ends_with("Add"))
        .map(|r| r.requestor_id.as_str())
}

fn parse_list_query(raw: Option<&str>) -> GraphResult<ODataQuery> {
    let query = ODataQuery::parse(
        raw,
        Supported::LIST
            .with_expand(render::ASSIGNMENT_EXPANDS)
            .with_orderby(),
    )?;
    if let Some(filter) = &query.filter {
        render::check_filter_paths(filter, ASSIGNMENT_FILTERS)?;
    }
    Ok(query)
}

fn collection(
    world: &World,
    state: &SimState,
    query: &ODataQuery,
    keep: impl Fn(&Assignment) -> bool,
    path: &str,
) -> GraphResult<Json<Value>> {
    let mut assignments: Vec<&Assignment> =
        world.assignments.values().filter(|a| keep(a)).collect();
    assignments.sort_by(|a, b| a.start.cmp(&b.start).then(a.id.cmp(&b.id)));
    let mut items = Vec::new();
    for a in assignments {
        let item = render::assignment(world, a, &query.expand)?;
        let view = render::with_filter_paths(
            item.clone(),
            &[
                ("accessPackage", "id", &a.access_package_id),
                ("target", "objectId", &a.target_id),
            ],
        );
        if query.filter.as_ref().is_none_or(|f| f.matches(&view)) {
            items.push(item);
        }
    }
    let mut unfiltered = query.clone();
    unfiltered.filter = None;
    Ok(Json(unfiltered.collection(items, &state.graph_url(path))))
}
