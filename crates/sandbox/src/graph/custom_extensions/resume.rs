//! `POST /identityGovernance/entitlementManagement/assignmentRequests/{id}/resume`:
//! a launch-and-wait custom extension answering its callout.
//!
//! Only a callout whose extension has a `callbackConfiguration` waits for a
//! callback ("whose requestStatus is in a WaitingForCallback state"), and only
//! within its `timeoutDuration`. The docs disagree on when `state` may deny or
//! cancel (docs/architecture.md, "Entitlement management custom extensions");
//! the sandbox follows the callbackData resource: `Denied` / `Canceled` only
//! at `assignmentRequestCreated`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::WRITE;
use crate::SimState;
use crate::clock::{graph_time, parse_iso_duration};
use crate::graph::GraphJson;
use crate::graph::auth::Caller;
use crate::graph::error::{GraphError, GraphResult};
use crate::notify::callouts::STAGE_TYPE_PREFIX;
use crate::notify::delivery::DeliveryKind;

/// The stages whose callouts can be resumed (the resume doc's `type` values).
const RESUMABLE: [&str; 4] = [
    "assignmentRequestCreated",
    "assignmentRequestApproved",
    "assignmentRequestGranted",
    "assignmentRequestRemoved",
];

fn bad(message: impl Into<String>) -> GraphError {
    GraphError::bad_request(message)
}

/// `POST …/assignmentRequests/{id}/resume` — EntitlementManagement.ReadWrite.All,
/// delegated or application (the Logic App's managed identity).
pub async fn resume(
    State(state): State<SimState>,
    caller: Caller,
    Path(request_id): Path<String>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<StatusCode> {
    caller.require(&WRITE)?;
    let kind = body
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("The parameter 'type' is required."))?;
    let stage = kind
        .strip_prefix(STAGE_TYPE_PREFIX)
        .filter(|s| RESUMABLE.contains(s))
        .ok_or_else(|| {
            bad(format!(
                "'{kind}' is not a resumable custom extension stage type."
            ))
        })?;
    let data = body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| bad("The parameter 'data' is required."))?;
    if let Some(named) = data.get("stage").and_then(Value::as_str)
        && !named.eq_ignore_ascii_case(stage)
    {
        return Err(bad(format!(
            "data.stage '{named}' does not match the type's stage '{stage}'."
        )));
    }
    let instance_id = data
        .get("customExtensionStageInstanceId")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("data.customExtensionStageInstanceId is required."))?;
    let outcome = match data.get("state").and_then(Value::as_str) {
        None => None,
        Some(s) if stage == "assignmentRequestCreated" && s.eq_ignore_ascii_case("denied") => {
            Some(("denied", "Denied"))
        }
        Some(s) if stage == "assignmentRequestCreated" && s.eq_ignore_ascii_case("canceled") => {
            Some(("canceled", "Canceled"))
        }
        Some(s) => {
            return Err(bad(format!(
                "data.state '{s}' is not allowed: only Denied or Canceled, and only at the assignmentRequestCreated stage."
            )));
        }
    };
    if !state.world().requests.contains_key(&request_id) {
        return Err(GraphError::not_found(format!(
            "Access package assignment request '{request_id}' was not found."
        )));
    }

    let now = state.clock.now();
    {
        let mut n = state.notify.lock();
        let callout = n
            .deliveries
            .iter()
            .find(|d| {
                matches!(&d.kind, DeliveryKind::Callout {
                    access_package_assignment_request_id: r,
                    custom_extension_stage_instance_id: i,
                    stage: s,
                } if r == &request_id && i == instance_id && s == stage)
            })
            .ok_or_else(|| {
                bad(format!(
                    "No custom extension callout '{instance_id}' of stage {stage} was sent for this request."
                ))
            })?;
        let timeout = callout
            .body
            .pointer("/data/callbackConfiguration/timeoutDuration")
            .and_then(Value::as_str)
            .and_then(|t| parse_iso_duration(t).ok())
            .ok_or_else(|| {
                bad("The request is not waiting for a callback: the custom extension does not launch and wait.")
            })?;
        if now > callout.created + timeout {
            return Err(bad(
                "The callback arrived after the custom extension's timeoutDuration (callbackTimedOut).",
            ));
        }
        if n.callbacks.contains_key(instance_id) {
            return Err(bad(
                "The callback for this custom extension stage instance was already received.",
            ));
        }
        n.callbacks.insert(
            instance_id.to_owned(),
            json!({
                "receivedDateTime": graph_time(now),
                "source": body.get("source").cloned().unwrap_or(Value::Null),
                "stage": stage,
                "accessPackageAssignmentRequestId": request_id,
                "customExtensionStageInstanceDetail": data
                    .get("customExtensionStageInstanceDetail")
                    .cloned()
                    .unwrap_or(Value::Null),
                "state": data.get("state").cloned().unwrap_or(Value::Null),
            }),
        );
    }
    if let Some((request_state, status)) = outcome {
        let mut world = state.world();
        if let Some(request) = world.requests.get_mut(&request_id)
            && matches!(request.state.as_str(), "submitted" | "pendingApproval")
        {
            request.state = request_state.into();
            request.status = status.into();
            request.completed = Some(now);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
