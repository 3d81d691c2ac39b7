//! `POST …/group/assignmentScheduleRequests`: activation (`selfActivate`),
//! deactivation (`selfDeactivate`) and admin assignment/removal
//! (`adminAssign`, `adminRemove`), with the group's PIM policy enforced.
//!
//! Policy violations are answered the way PIM answers them (community
//! reports; Microsoft documents no error body, see docs/architecture.md,
//! "PIM for Groups"):
//! `400 RoleAssignmentRequestPolicyValidationFailed` with the message
//! `The following policy rules failed: ["ExpirationRule","MfaRule"]`
//! (microsoftgraph/msgraph-sdk-powershell#1808 for MfaRule,
//! netr0m/az-pim-cli#66 for ExpirationRule, janegilring/PIMTools#4 for
//! TicketingRule, MicrosoftDocs/azure-docs#80426 for EligibilityRule when
//! activating without an eligibility). Every failing rule is listed at once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::policy::GroupPolicy;
use super::{
    ASSIGNMENT_WRITE, AssignmentSchedule, CreatedBy, RequestedSchedule, ScheduleRequest, render,
};
use crate::SimState;
use crate::graph::GraphJson;
use crate::graph::auth::Caller;
use crate::graph::error::{GraphError, GraphResult};
use crate::world::World;

mod checks;

/// The body of a create request. Read-only properties (`id`, `status`, …)
/// are refused as Graph refuses undeclared or read-only input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct CreateBody {
    #[serde(rename = "@odata.type")]
    _odata_type: Option<String>,
    access_id: Option<String>,
    action: Option<String>,
    group_id: Option<String>,
    principal_id: Option<String>,
    schedule_info: Option<ScheduleIn>,
    justification: Option<String>,
    ticket_info: Option<TicketIn>,
    custom_data: Option<String>,
    is_validation_only: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ScheduleIn {
    start_date_time: Option<String>,
    expiration: Option<ExpirationIn>,
    recurrence: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ExpirationIn {
    #[serde(rename = "type")]
    kind: Option<String>,
    duration: Option<String>,
    end_date_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct TicketIn {
    ticket_number: Option<String>,
    ticket_system: Option<String>,
}

/// A validated request, ready to apply.
struct Validated {
    action: &'static str,
    access_id: &'static str,
    group_id: String,
    principal_id: String,
    schedule: Option<RequestedSchedule>,
    body: CreateBody,
}

/// Create an assignment schedule request.
///
/// Permission: `PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup` (delegated
/// or application; `…Remove.AzureADGroup` suffices for removals),
/// docs/architecture.md, "Graph permissions". `selfActivate` / `selfDeactivate`
/// additionally need a user token whose user is the `principalId` (our reading,
/// stated there: the action is "for principals to activate their assignments",
/// and the MFA / authentication-context rules apply to that user's token, which
/// an app-only token cannot carry). Admin actions need a delegated caller who
/// owns the group (the RBAC include's Privileged Role Administrator is not
/// modelled) or an application permission.
pub(super) async fn create(
    State(state): State<SimState>,
    caller: Caller,
    GraphJson(body): GraphJson<CreateBody>,
) -> GraphResult<Response> {
    super::require(&caller, &ASSIGNMENT_WRITE)?;
    if state.chaos.pass(crate::tripwire::Moment::Activation).await {
        return Err(crate::graph::error::GraphError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        ));
    }
    let now = state.clock.now();
    let validated = checks::shape(body, now)?;
    if !matches!(validated.action, "selfDeactivate" | "adminRemove") {
        let scopes = if caller.is_app() {
            caller.claims.roles.clone().unwrap_or_default()
        } else {
            caller
                .claims
                .scopes()
                .into_iter()
                .map(str::to_owned)
                .collect()
        };
        if scopes
            .iter()
            .all(|s| s == "PrivilegedAssignmentSchedule.Remove.AzureADGroup")
        {
            return Err(GraphError::new(
                StatusCode::FORBIDDEN,
                "UnknownError",
                "{\"errorCode\":\"PermissionScopeNotGranted\",\"message\":\"Authorization failed due to missing permission scope PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup,PrivilegedAccess.ReadWrite.AzureADGroup.\",\"instanceAnnotations\":[]}",
            ));
        }
    }
    let created_by = match caller.user_id() {
        Some(user) => CreatedBy::User(user.to_owned()),
        None => CreatedBy::Application(caller.app_id().to_owned()),
    };
    let rendered = {
        let mut world = state.world();
        checks::authorize(&world, &caller, &validated)?;
        let request = apply(&mut world, &caller, validated, created_by, now)?;
        render::request(&request)
    };
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(state.graph_url(&format!(
            "/$metadata#{}/assignmentScheduleRequests/$entity",
            &super::BASE[1..]
        ))),
    );
    if let serde_json::Value::Object(mut map) = rendered {
        body.append(&mut map);
    }
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Enforces the policy for the action and, unless `isValidationOnly`,
/// records the request and changes schedules and membership.
fn apply(
    world: &mut World,
    caller: &Caller,
    v: Validated,
    created_by: CreatedBy,
    now: DateTime<Utc>,
) -> GraphResult<ScheduleRequest> {
    let group = world
        .groups
        .get(&v.group_id)
        .ok_or_else(|| GraphError::not_found(format!("Group '{}' was not found.", v.group_id)))?;
    let policy = GroupPolicy::of(group, v.access_id);
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut request = ScheduleRequest {
        id: request_id.clone(),
        action: v.action.into(),
        status: String::new(),
        created: now,
        completed: None,
        created_by,
        principal_id: v.principal_id.clone(),
        group_id: v.group_id.clone(),
        access_id: v.access_id.into(),
        justification: v.body.justification.clone(),
        ticket_number: v
            .body
            .ticket_info
            .as_ref()
            .and_then(|t| t.ticket_number.clone()),
        ticket_system: v
            .body
            .ticket_info
            .as_ref()
            .and_then(|t| t.ticket_system.clone()),
        custom_data: v.body.custom_data.clone(),
        is_validation_only: v.body.is_validation_only.unwrap_or(false),
        schedule: v.schedule.clone(),
        target_schedule_id: None,
    };
    let same_access = |s: &&AssignmentSchedule| {
        s.group_id == v.group_id && s.principal_id == v.principal_id && s.access_id == v.access_id
    };
    match v.action {
        "selfActivate" | "adminAssign" => {
            let activation = v.action == "selfActivate";
            let eligibility = if activation {
                let found = world.pim.eligibility.values().find(|e| {
                    e.group_id == v.group_id
                        && e.principal_id == v.principal_id
                        && e.access_id == v.access_id
                        && e.start <= now
                        && e.end.is_none_or(|end| end > now)
                });
                match found {
                    Some(e) => Some(e.id.clone()),
                    None => return Err(checks::rules_failed(&["EligibilityRule"])),
                }
            } else {
                None
            };
            let kind = if activation { "activated" } else { "assigned" };
            if world
                .pim
                .schedules
                .values()
                .filter(same_access)
                .any(|s| s.assignment_type == kind)
            {
                return Err(checks::pim_error(
                    "RoleAssignmentExists",
                    "The Role assignment already exists.",
                ));
            }
            let schedule = v.schedule.clone();
            checks::policy_rules(&policy, activation, &v.body, schedule.as_ref(), caller)?;
            if request.is_validation_only {
                request.status = "Granted".into();
                return Ok(request);
            }
            let schedule = schedule.unwrap_or(RequestedSchedule {
                start: now,
                expiration_type: "noExpiration".into(),
                duration: None,
                end: None,
            });
            let target = format!("{}_{}_{}", v.group_id, v.access_id, request_id);
            let starts_now = schedule.start <= now;
            request.status = if starts_now { "Provisioned" } else { "Granted" }.into();
            request.completed = Some(if starts_now { now } else { schedule.start });
            request.target_schedule_id = Some(target.clone());
            world.pim.schedules.insert(
                target.clone(),
                AssignmentSchedule {
                    id: target.clone(),
                    instance_id: uuid::Uuid::new_v4().to_string(),
                    request_id: request_id.clone(),
                    group_id: v.group_id.clone(),
                    principal_id: v.principal_id.clone(),
                    access_id: v.access_id.into(),
                    assignment_type: kind,
                    start: schedule.start.max(now),
                    end: schedule.end,
                    created: now,
                    activated_using: eligibility,
                    provisioned: false,
                },
            );
            if starts_now {
                world.provision_schedule(&target);
            }
        }
        _ => {
            // selfDeactivate ends activations; adminRemove ends admin
            // assignments (and activations, as removing access does).
            let kinds: &[&str] = if v.action == "selfDeactivate" {
                &["activated"]
            } else {
                &["activated", "assigned"]
            };
            let ending: Vec<String> = world
                .pim
                .schedules
                .values()
                .filter(same_access)
                .filter(|s| kinds.contains(&s.assignment_type))
                .map(|s| s.id.clone())
                .collect();
            let Some(first) = ending.first().cloned() else {
                return Err(checks::pim_error(
                    "RoleAssignmentDoesNotExist",
                    "The Role assignment does not exist.",
                ));
            };
            request.status = if request.is_validation_only {
                "Granted"
            } else {
                "Revoked"
            }
            .into();
            if request.is_validation_only {
                return Ok(request);
            }
            request.completed = Some(now);
            request.target_schedule_id = Some(first);
            for id in ending {
                world.end_schedule(&id);
            }
        }
    }
    world.pim.requests.insert(request_id, request.clone());
    Ok(request)
}
