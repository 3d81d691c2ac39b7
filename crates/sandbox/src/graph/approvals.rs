//! Emulated Graph: entitlement-management approvals
//! (`/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals`).
//!
//! Every operation here is delegated-only (docs/architecture.md, "Graph
//! permissions" and "Entitlement management requests and approvals"): an
//! app-only token gets 403. The approval id is the request id. The emulator
//! records who decided each stage (`reviewedBy`), so a decision can be shown
//! to have been made *as* a given person.
//!
//! Stages not yet started are not listed: Microsoft's examples only ever
//! show the stage in progress, and a future stage has no approvers until it
//! starts (they are resolved then, from the directory as it is then), so
//! there is nothing truthful to say about it. Started stages stay listed
//! with their outcome, which gives later approvers the history.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::GraphJson;
use super::auth::{Caller, Permission};
use super::error::{GraphError, GraphResult};
use super::lifecycle::current_stage;
use super::odata::{ODataQuery, Supported};
use super::requests::{READ_ALL, WRITE_ALL, function_argument, render};
use crate::SimState;
use crate::world::{AssignmentRequest, World};

const APPROVALS: &str =
    "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

const READ: Permission = Permission {
    delegated: READ_ALL,
    application: None,
};

const DECIDE: Permission = Permission {
    delegated: &[WRITE_ALL],
    application: None,
};

pub fn routes() -> Router<SimState> {
    Router::new()
        .route(&format!("{APPROVALS}/{{id}}"), get(get_approval))
        .route(&format!("{APPROVALS}/{{id}}/stages"), get(list_stages))
        .route(
            &format!("{APPROVALS}/{{id}}/stages/{{stage_id}}"),
            get(get_stage).patch(decide),
        )
}

/// `GET …/accessPackageAssignmentApprovals/{id}` (delegated
/// `EntitlementManagement.Read.All` or `ReadWrite.All`), and
/// `…/filterByCurrentUser(on='approver')` (delegated
/// `EntitlementManagement.ReadWrite.All`): approvals with a stage awaiting
/// the caller's decision.
async fn get_approval(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    if let Some(on) = function_argument(&id, "filterByCurrentUser", "on") {
        caller.require(&DECIDE)?;
        let me = caller.require_user()?.to_owned();
        if on != "approver" {
            return Err(GraphError::bad_request(format!(
                "The value '{on}' is not supported for parameter 'on'; the allowed value is 'approver'."
            )));
        }
        let query = ODataQuery::parse(raw.as_deref(), Supported::LIST.with_expand(&["stages"]))?;
        let world = state.world();
        let mut pending: Vec<&AssignmentRequest> = world
            .requests
            .values()
            .filter(|r| {
                r.state == "pendingApproval"
                    && current_stage(r).is_some_and(|(_, s)| s.approver_ids.contains(&me))
            })
            .collect();
        pending.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        let items = pending
            .into_iter()
            .map(|r| {
                let mut item = json!({ "@odata.type": "#microsoft.graph.approval", "id": r.id });
                if query.expands("stages") {
                    item["stages"] = json!(stages(&world, r, &me));
                }
                item
            })
            .collect();
        let url = state.graph_url(&format!("{APPROVALS}/filterByCurrentUser(on='approver')"));
        return Ok(Json(query.collection(items, &url)));
    }
    caller.require(&READ)?;
    let me = caller.require_user()?.to_owned();
    ODataQuery::parse(raw.as_deref(), Supported::NONE)?;
    let world = state.world();
    let r = approval_of(&world, &id)?;
    Ok(Json(json!({
        "@odata.context": format!("{}/$metadata#identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/$entity", state.graph_url("")),
        "id": r.id,
        "stages": stages(&world, r, &me),
    })))
}

/// `GET …/{id}/stages`: delegated `EntitlementManagement.Read.All` or
/// `ReadWrite.All`.
async fn list_stages(
    caller: Caller,
    State(state): State<SimState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&READ)?;
    let me = caller.require_user()?.to_owned();
    let query = ODataQuery::parse(raw.as_deref(), Supported::LIST)?;
    let world = state.world();
    let r = approval_of(&world, &id)?;
    let url = state.graph_url(&format!("{APPROVALS}/{id}/stages"));
    Ok(Json(query.collection(stages(&world, r, &me), &url)))
}

/// `GET …/{id}/stages/{stageId}`: delegated `EntitlementManagement.Read.All`
/// or `ReadWrite.All`.
async fn get_stage(
    caller: Caller,
    State(state): State<SimState>,
    Path((id, stage_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> GraphResult<Json<Value>> {
    caller.require(&READ)?;
    let me = caller.require_user()?.to_owned();
    let query = ODataQuery::parse(raw.as_deref(), Supported::ENTITY)?;
    let world = state.world();
    let r = approval_of(&world, &id)?;
    let stage = r
        .stages
        .iter()
        .find(|s| s.id == stage_id && s.started.is_some())
        .ok_or_else(|| stage_not_found(&stage_id))?;
    Ok(Json(query.project(render::stage(&world, r, stage, &me))))
}

/// `PATCH …/{id}/stages/{stageId}` with `reviewResult` `Approve`|`Deny` and
/// `justification`: delegated `EntitlementManagement.ReadWrite.All` only,
/// and only by an approver of the stage in progress, never the requestor.
/// `204` on success; `409` when the stage was already decided (by anyone)
/// or has expired; `400` when the policy requires a justification and none
/// is given.
async fn decide(
    caller: Caller,
    State(state): State<SimState>,
    Path((id, stage_id)): Path<(String, String)>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    caller.require(&DECIDE)?;
    let me = caller.require_user()?.to_owned();
    if state
        .chaos
        .pass(crate::tripwire::Moment::DecisionRelay)
        .await
    {
        return Err(GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ));
    }
    let (result, justification) = parse_decision(&body)?;
    let now = state.clock.now();
    let mut world = state.world();
    let r = approval_of(&world, &id)?;
    let (index, stage) = r
        .stages
        .iter()
        .enumerate()
        .find(|(_, s)| s.id == stage_id && s.started.is_some())
        .ok_or_else(|| stage_not_found(&stage_id))?;
    if me == r.requestor_id || me == r.target_id {
        return Err(forbidden(
            "Approvers aren't able to approve or deny their own access package requests.",
        ));
    }
    if !stage.approver_ids.contains(&me) {
        return Err(forbidden(
            "The signed-in user is not an approver of this approval stage.",
        ));
    }
    if stage.reviewed_by.as_deref() == Some(me.as_str()) {
        state.chaos.record_decision(&id, &stage_id, &me, false);
    }
    if stage.status != "InProgress" || r.state != "pendingApproval" {
        let why = match (stage.status.as_str(), stage.reviewed_by.as_deref()) {
            ("Expired", _) => "the stage expired without a decision".to_owned(),
            (_, Some(by)) => format!(
                "the stage was already {} by {}",
                stage.review_result.to_lowercase(),
                world.users.get(by).map_or(by, |u| u.display_name.as_str())
            ),
            _ => format!("the request is {}", r.state),
        };
        return Err(GraphError::conflict(
            "Conflict",
            format!("This approval stage can no longer be decided: {why}."),
        ));
    }
    let required = world
        .policies
        .get(&r.policy_id)
        .and_then(|p| p.request_approval_settings.stages.get(index))
        .is_some_and(|s| s.is_approver_justification_required);
    if required && justification.trim().is_empty() {
        return Err(GraphError::bad_request(
            "A justification is required to approve or deny this request.",
        ));
    }
    if let Some(stage) = world
        .requests
        .get_mut(&id)
        .and_then(|r| r.stages.get_mut(index))
    {
        stage.review_result = result.into();
        stage.reviewed_by = Some(me.clone());
        stage.reviewed_at = Some(now);
        stage.decided_at = Some(std::time::Instant::now());
        stage.justification = justification;
    }
    state.chaos.record_decision(&id, &stage_id, &me, true);
    // Apply the decision's consequences (next stage, delivery, denial) now,
    // so every reader after this 204 sees them.
    world.advance_to(now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `reviewResult` is written as `Approve`/`Deny` and read back as
/// `Approved`/`Denied` (docs/architecture.md, "Entitlement management
/// requests and approvals").
fn parse_decision(body: &Value) -> GraphResult<(&'static str, String)> {
    let object = body
        .as_object()
        .ok_or_else(|| GraphError::bad_request("The request body must be a JSON object."))?;
    for key in object.keys() {
        if !key.starts_with('@') && key != "reviewResult" && key != "justification" {
            return Err(GraphError::bad_request(format!(
                "The property '{key}' cannot be updated on type 'microsoft.graph.approvalStage'; only reviewResult and justification can."
            )));
        }
    }
    let result = match object.get("reviewResult").and_then(Value::as_str) {
        Some(v) if v.eq_ignore_ascii_case("Approve") => "Approved",
        Some(v) if v.eq_ignore_ascii_case("Deny") => "Denied",
        Some(v) => {
            return Err(GraphError::bad_request(format!(
                "Invalid reviewResult '{v}'; possible values are Approve and Deny."
            )));
        }
        None => {
            return Err(GraphError::bad_request(
                "The property 'reviewResult' is required (Approve or Deny).",
            ));
        }
    };
    let justification = match object.get("justification") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(_) => return Err(GraphError::bad_request("'justification' must be a string.")),
    };
    Ok((result, justification))
}

fn stages(world: &World, r: &AssignmentRequest, viewer: &str) -> Vec<Value> {
    r.stages
        .iter()
        .filter(|s| s.started.is_some())
        .map(|s| render::stage(world, r, s, viewer))
        .collect()
}

/// The approval of request `id`; requests that never needed approval have
/// none.
fn approval_of<'a>(world: &'a World, id: &str) -> GraphResult<&'a AssignmentRequest> {
    world
        .requests
        .get(id)
        .filter(|r| r.stages.iter().any(|s| s.started.is_some()))
        .ok_or_else(|| GraphError::not_found(format!("Approval '{id}' was not found.")))
}

fn stage_not_found(id: &str) -> GraphError {
    GraphError::not_found(format!("Approval stage '{id}' was not found."))
}

fn forbidden(message: &str) -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        message,
    )
}
