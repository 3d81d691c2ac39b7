//! Entitlement-management entities as Graph v1.0 renders them. Property
//! names and enum members are the CSDL's (`accessPackageAssignmentRequest`,
//! `accessPackageAssignment`, `accessPackageSubject`, `accessPackage`,
//! `approvalStage`), not the beta-era names some doc examples show.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::graph_time;
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::odata::{Expand, Filter, ODataQuery, Supported};
use crate::world::{ApprovalStageState, Assignment, AssignmentRequest, World};

pub const REQUEST_EXPANDS: &[&str] = &["accessPackage", "assignment", "requestor"];
pub const ASSIGNMENT_EXPANDS: &[&str] = &["accessPackage", "target"];

/// `accessPackageSubject` ids are entitlement management's own, distinct
/// from the directory object id (`objectId`); derive a stable one.
pub fn subject_id(object_id: &str) -> String {
    let digest = Sha256::digest(format!("accessPackageSubject:{object_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The `accessPackageSubject` for a user, or the app's service principal.
pub fn subject(world: &World, object_id: &str) -> Value {
    if let Some(u) = world.users.get(object_id) {
        return json!({
            "id": subject_id(&u.id),
            "objectId": u.id,
            "displayName": u.display_name,
            "email": u.mail,
            "principalName": u.user_principal_name,
            "onPremisesSecurityIdentifier": null,
            "subjectType": "user",
            "subjectLifecycle": "notDefined",
        });
    }
    let app = &world.app;
    let is_app = app.service_principal_id == object_id;
    json!({
        "id": subject_id(object_id),
        "objectId": object_id,
        "displayName": if is_app { Value::from(app.display_name.clone()) } else { Value::Null },
        "email": null,
        "principalName": null,
        "onPremisesSecurityIdentifier": null,
        "subjectType": if is_app { "servicePrincipal" } else { "notSpecified" },
        "subjectLifecycle": "notDefined",
    })
}

pub fn access_package(world: &World, id: &str) -> Value {
    match world.access_packages.get(id) {
        Some(p) => json!({
            "id": p.id,
            "displayName": p.display_name,
            "description": p.description,
            "isHidden": p.is_hidden,
            "createdDateTime": graph_time(p.created),
            "modifiedDateTime": graph_time(p.created),
        }),
        None => Value::Null,
    }
}

/// What a new request's `schedule` reads when none was asked for
/// (create Example 3's response).
pub fn unspecified_schedule() -> Value {
    json!({
        "startDateTime": null,
        "recurrence": null,
        "expiration": { "endDateTime": null, "duration": null, "type": "notSpecified" },
    })
}

pub fn request(world: &World, r: &AssignmentRequest, expand: &[Expand]) -> GraphResult<Value> {
    let mut item = json!({
        "id": r.id,
        "requestType": r.request_type,
        "state": r.state,
        "status": r.status,
        "createdDateTime": graph_time(r.created),
        "completedDateTime": r.completed.map(graph_time),
        "justification": r.justification,
        "schedule": r.schedule,
        "answers": r.answers,
        "customExtensionCalloutInstances": [],
    });
    for e in expand {
        let value = match e.name.to_ascii_lowercase().as_str() {
            "accesspackage" => access_package(world, &r.access_package_id),
            "requestor" => subject(world, &r.requestor_id),
            "assignment" => {
                let nested = nested_expands(e, ASSIGNMENT_EXPANDS)?;
                match r
                    .assignment_id
                    .as_deref()
                    .and_then(|a| world.assignments.get(a))
                {
                    Some(a) => assignment(world, a, &nested)?,
                    None => Value::Null,
                }
            }
            _ => continue,
        };
        item[canonical(&e.name, REQUEST_EXPANDS)] = value;
    }
    Ok(item)
}

pub fn assignment(world: &World, a: &Assignment, expand: &[Expand]) -> GraphResult<Value> {
    // A delivered assignment's schedule is resolved to the instant it ends.
    let expiration = match a.end {
        Some(end) => {
            json!({ "endDateTime": graph_time(end), "duration": null, "type": "afterDateTime" })
        }
        None => json!({ "endDateTime": null, "duration": null, "type": "noExpiration" }),
    };
    let mut item = json!({
        "id": a.id,
        "state": a.state,
        "status": a.status,
        "expiredDateTime": a.expired_at.map(graph_time),
        "schedule": {
            "startDateTime": graph_time(a.start),
            "recurrence": null,
            "expiration": expiration,
        },
        "customExtensionCalloutInstances": [],
    });
    for e in expand {
        let value = match e.name.to_ascii_lowercase().as_str() {
            "accesspackage" => access_package(world, &a.access_package_id),
            "target" => subject(world, &a.target_id),
            _ => continue,
        };
        item[canonical(&e.name, ASSIGNMENT_EXPANDS)] = value;
    }
    Ok(item)
}

/// An `approvalStage` as `viewer` sees it (`assignedToMe`).
pub fn stage(world: &World, r: &AssignmentRequest, s: &ApprovalStageState, viewer: &str) -> Value {
    let reviewed_by = s.reviewed_by.as_deref().map(|id| {
        json!({
            "id": id,
            "displayName": world.users.get(id).map(|u| u.display_name.clone()),
        })
    });
    json!({
        "id": s.id,
        "displayName": null,
        "reviewedDateTime": s.reviewed_at.map(graph_time),
        "reviewResult": s.review_result,
        "status": s.status,
        "assignedToMe": r.state == "pendingApproval"
            && s.status == "InProgress"
            && s.approver_ids.iter().any(|a| a == viewer),
        "justification": s.justification,
        "reviewedBy": reviewed_by,
    })
}

/// The navigation values a `$filter` may reach (`accessPackage/id`,
/// `requestor/objectId`, `target/objectId`) merged into the item.
pub fn with_filter_paths(mut item: Value, paths: &[(&str, &str, &str)]) -> Value {
    for (nav, prop, value) in paths {
        if !item[*nav].is_object() {
            item[*nav] = json!({});
        }
        item[*nav][*prop] = json!(value);
    }
    item
}

/// Refuses `$filter` on properties the endpoint does not support, as
/// Graph does, instead of silently matching nothing.
pub fn check_filter_paths(filter: &Filter, allowed: &[&str]) -> GraphResult<()> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            check_filter_paths(a, allowed)?;
            check_filter_paths(b, allowed)
        }
        Filter::Not(f) => check_filter_paths(f, allowed),
        Filter::Compare { path, .. } | Filter::StartsWith { path, .. } => {
            if allowed.iter().any(|p| p.eq_ignore_ascii_case(path)) {
                Ok(())
            } else {
                Err(GraphError::bad_request(format!(
                    "Invalid filter clause: filtering on property '{path}' is not supported."
                )))
            }
        }
    }
}

fn nested_expands(e: &Expand, allowed: &'static [&'static str]) -> GraphResult<Vec<Expand>> {
    let Some(options) = e.options.as_deref() else {
        return Ok(vec![]);
    };
    let query = ODataQuery::parse(Some(options), Supported::NONE.with_expand(allowed))?;
    Ok(query.expand)
}

fn canonical(name: &str, names: &[&'static str]) -> &'static str {
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("unknown")
}
