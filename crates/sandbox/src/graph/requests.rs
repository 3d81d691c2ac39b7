//! Emulated Graph: entitlement-management assignment requests
//! (`/identityGovernance/entitlementManagement/assignmentRequests`) and the
//! read-only assignments they produce (`…/assignments`).
//!
//! Permissions per docs/architecture.md, "Graph permissions": reads accept
//! `EntitlementManagement.Read.All` / `ReadWrite.All` (delegated or
//! application); `filterByCurrentUser` and `cancel` are delegated-only.

mod assignments;
mod create;
pub mod render;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::auth::{Caller, Permission};
use super::error::{GraphError, GraphResult};
use super::lifecycle::{OPEN_STATES, current_stage};
use super::odata::{ODataQuery, Supported};
use crate::SimState;
use crate::world::{AssignmentRequest, World};

const ROOT: &str = "/identityGovernance/entitlementManagement";
const REQUESTS: &str = "/identityGovernance/entitlementManagement/assignmentRequests";

pub(crate) const READ_ALL: &[&str] = &[
    "EntitlementManagement.Read.All",
    "EntitlementManagement.ReadWrite.All",
];
pub(crate) const WRITE_ALL: &str = "EntitlementManagement.ReadWrite.All";
pub(crate) const SUBJECT_ACCESS: &str = "EntitlementMgmt-SubjectAccess.ReadWrite";

/// Get / list requests and assignments.
pub(crate) const READ: Permission = Permission {
    delegated: READ_ALL,
    application: Some(READ_ALL),
};

/// `assignmentRequests/filterByCurrentUser(on=…)`: delegated only.
pub(crate) const FILTER_BY_CURRENT_USER: Permission = Permission {
    delegated: &[
        SUBJECT_ACCESS,
        "EntitlementManagement.Read.All",
        "EntitlementManagement.ReadWrite.All",
    ],
    application: None,
};

/// `cancel`: delegated only; end users may cancel their own requests with
/// the subject-access permission, administrators any with `ReadWrite.All`.
const CANCEL: Permission = Permission {
    delegated: &[SUBJECT_ACCESS, WRITE_ALL],
    application: None,
};

/// Properties of a request `$filter` may use (resource page: `state` and
/// `createdDateTime`; the list page: `accessPackage/id`).
const REQUEST_FILTERS: &[&str] = &[
    "id",
    "state",
    "status",
    "requestType",
    "createdDateTime",
    "completedDateTime",
    "accessPackage/id",
    "requestor/objectId",
];

pub fn routes() -> Router<SimState> {
    Router::new()
        .route(REQUESTS, get(list).post(create::create))
        .route(&format!("{REQUESTS}/{{id}}"), get(get_one))
        .route(&format!("{REQUESTS}/{{id}}/cancel"), post(cancel))
        .route(&format!("{ROOT}/assignments"), get(assignments::list))
        .route(
            &format!("{ROOT}/assignments/{{id}}"),
            get(assignments::get_one),
        )
}

/// `EntitlementManagement.Read.All` or `ReadWrite.All`, delegated or
/// application: every request in the tenant.
async fn list(
    caller: Caller,
    State(state): State<SimState>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&READ)?;
    let query = parse_list_query(raw.as_deref())?;
    let world = state.world();
    collection(&world, &state, &query, |_| true, REQUESTS)
}

/// `GET …/assignmentRequests/{id}` (`EntitlementManagement.Read.All` or
/// `ReadWrite.All`, delegated or application), and the bound function
/// `…/filterByCurrentUser(on='target'|'createdBy'|'approver')` (delegated
/// only, `EntitlementMgmt-SubjectAccess.ReadWrite` or higher).
async fn get_one(
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
        let keep: Box<dyn Fn(&AssignmentRequest) -> bool> = match on.as_str() {
            "target" => Box::new(move |r| r.target_id == me),
            "createdBy" => Box::new(move |r| r.requestor_id == me),
            // "assignment requests in pending state … that need a decision
            // from the caller".
            "approver" => Box::new(move |r| {
                r.state == "pendingApproval"
                    && current_stage(r).is_some_and(|(_, s)| s.approver_ids.contains(&me))
            }),
            other => {
                return Err(GraphError::bad_request(format!(
                    "The value '{other}' is not supported for parameter 'on'; supported values are 'target', 'createdBy' and 'approver'."
                )));
            }
        };
        let url = format!("{REQUESTS}/filterByCurrentUser(on='{on}')");
        return collection(&world, &state, &query, keep, &url);
    }
    caller.require(&READ)?;
    let query = ODataQuery::parse(
        raw.as_deref(),
        Supported::ENTITY.with_expand(render::REQUEST_EXPANDS),
    )?;
    let world = state.world();
    let r = world.requests.get(&id).ok_or_else(|| not_found(&id))?;
    let mut item = query.project(render::request(&world, r, &query.expand)?);
    item["@odata.context"] = json!(format!(
        "{}/$metadata#identityGovernance/entitlementManagement/assignmentRequests/$entity",
        state.graph_url("")
    ));
    Ok(Json(item))
}

/// `POST …/assignmentRequests/{id}/cancel`: delegated only. The requestor
/// (or target) may cancel with `EntitlementMgmt-SubjectAccess.ReadWrite`;
/// anyone else needs `EntitlementManagement.ReadWrite.All`.
///
/// Returns `204 No Content`: the page's text says `200 OK` but its example
/// shows `204`, and PR microsoftgraph/microsoft-graph-docs#20021 ("Show
/// correct return status code", from a user observing the live service)
/// settled the example on 204. A 204 carries no body either way.
async fn cancel(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    caller.require(&CANCEL)?;
    let me = caller.require_user()?.to_owned();
    let is_admin = caller.claims.scopes().contains(&WRITE_ALL);
    let now = state.clock.now();
    let mut world = state.world();
    let r = world.requests.get_mut(&id).ok_or_else(|| not_found(&id))?;
    if !is_admin && r.requestor_id != me && r.target_id != me {
        return Err(GraphError::request_denied());
    }
    // Cancellable per the cancel page: accepted, pendingApproval,
    // pendingNotBefore, pendingApprovalEscalated.
    if !matches!(r.state.as_str(), "submitted" | "pendingApproval") {
        return Err(GraphError::bad_request(format!(
            "The request '{id}' is in state '{}' and cannot be canceled; only requests that are submitted or pending approval can be.",
            r.state
        )));
    }
    for stage in r.stages.iter_mut().filter(|s| s.status == "InProgress") {
        stage.status = "Completed".into();
    }
    r.state = "canceled".into();
    r.status = "Canceled".into();
    r.completed = Some(now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_list_query(raw: Option<&str>) -> GraphResult<ODataQuery> {
    let query = ODataQuery::parse(
        raw,
        Supported::LIST
            .with_expand(render::REQUEST_EXPANDS)
            .with_orderby(),
    )?;
    if let Some(filter) = &query.filter {
        render::check_filter_paths(filter, REQUEST_FILTERS)?;
    }
    Ok(query)
}

fn collection(
    world: &World,
    state: &SimState,
    query: &ODataQuery,
    keep: impl Fn(&AssignmentRequest) -> bool,
    path: &str,
) -> GraphResult<Json<Value>> {
    let mut requests: Vec<&AssignmentRequest> =
        world.requests.values().filter(|r| keep(r)).collect();
    requests.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
    let mut items = Vec::new();
    for r in requests {
        let item = render::request(world, r, &query.expand)?;
        let view = render::with_filter_paths(
            item.clone(),
            &[
                ("accessPackage", "id", &r.access_package_id),
                ("requestor", "objectId", &r.requestor_id),
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

/// `name(arg='value')` → `value`, for bound functions addressed like keys.
pub(crate) fn function_argument(segment: &str, name: &str, arg: &str) -> Option<String> {
    let head = segment.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let inner = segment[name.len()..]
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let (key, value) = inner.split_once('=')?;
    if !key.trim().eq_ignore_ascii_case(arg) {
        return Some(String::new());
    }
    Some(value.trim().trim_matches('\'').to_owned())
}

pub(crate) fn not_found(id: &str) -> GraphError {
    GraphError::not_found(format!(
        "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
    ))
}

/// Whether a request for `package` and `target` is still being processed.
pub(crate) fn open_request<'a>(
    world: &'a World,
    package: &str,
    target: &str,
) -> Option<&'a AssignmentRequest> {
    world.requests.values().find(|r| {
        r.access_package_id == package
            && r.target_id == target
            && OPEN_STATES.contains(&r.state.as_str())
    })
}
