//! `POST /identityGovernance/entitlementManagement/assignmentRequests`.
//!
//! Microsoft documents the success shapes but not the error codes this
//! operation returns when a policy refuses a request. Entitlement
//! management's observed errors use descriptive PascalCase codes in Graph's
//! envelope (e.g. `CallerNotResourceOwner`, microsoft-graph-docs-contrib
//! issue #8474), so the emulator does the same with these codes, chosen by
//! us and stable for clients to match on:
//!
//! | refusal | status | code |
//! |---|---|---|
//! | requestor not in the policy's `specificAllowedTargets` | 403 | `RequestorNotInPolicyScope` |
//! | self-service disabled by `requestorSettings` | 403 | `RequestNotAllowedByPolicy` |
//! | requestor or target account disabled | 403 / 400 | `UserAccountDisabled` |
//! | target already holds the package | 400 | `AccessPackageAlreadyAssigned` |
//! | an open request exists for package and target | 400 | `ExistingOpenRequest` |
//! | a required question unanswered | 400 | `QuestionNotAnswered` |
//! | an answer not matching `regexPattern` / the choices | 400 | `InvalidAnswer` |
//! | `isRequestorJustificationRequired` and none given | 400 | `RequestorJustificationRequired` |
//! | unknown package / policy / assignment | 404 | `ResourceNotFound` |
//! | policy of another package | 400 | `InvalidAssignmentPolicy` |

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Map, Value, json};

use super::render;
use super::{SUBJECT_ACCESS, WRITE_ALL};
use crate::SimState;
use crate::graph::GraphJson;
use crate::graph::auth::{Caller, Permission};
use crate::graph::error::{GraphError, GraphResult};
use crate::world::{ApprovalStageState, AssignmentRequest, SimEvent, World};

mod validate;

/// End-user request types: the signed-in user, for themselves.
const SELF_SERVICE: Permission = Permission {
    delegated: &[SUBJECT_ACCESS, WRITE_ALL],
    application: None,
};

/// Administrator request types: delegated or application.
const ADMIN: Permission = Permission {
    delegated: &[WRITE_ALL],
    application: Some(&[WRITE_ALL]),
};

/// `accessPackageRequestType` members this endpoint accepts. `userExtend`
/// appears in doc prose but not in the CSDL enum; extending is `userUpdate`.
const REQUEST_TYPES: &[&str] = &[
    "userAdd",
    "userUpdate",
    "userRemove",
    "adminAdd",
    "adminUpdate",
    "adminRemove",
];

/// Top-level properties of `accessPackageAssignmentRequest` a client may send.
const BODY_PROPERTIES: &[&str] = &[
    "id",
    "requestType",
    "assignment",
    "justification",
    "answers",
    "schedule",
];
const ASSIGNMENT_PROPERTIES: &[&str] = &[
    "id",
    "targetId",
    "target",
    "assignmentPolicyId",
    "accessPackageId",
];

/// Self-service request types need a signed-in user with
/// `EntitlementMgmt-SubjectAccess.ReadWrite` or
/// `EntitlementManagement.ReadWrite.All` (delegated only, for themselves);
/// admin request types need `EntitlementManagement.ReadWrite.All`
/// (delegated or application).
pub(super) async fn create(
    caller: Caller,
    State(state): State<SimState>,
    GraphJson(body): GraphJson<Value>,
) -> GraphResult<Response> {
    let body = body
        .as_object()
        .ok_or_else(|| GraphError::bad_request("The request body must be a JSON object."))?;
    let request_type = request_type(body)?;
    let self_service = request_type.starts_with("user");
    caller.require(if self_service { &SELF_SERVICE } else { &ADMIN })?;
    check_properties(body, BODY_PROPERTIES, "accessPackageAssignmentRequest")?;
    let assignment = match body.get("assignment") {
        Some(Value::Object(a)) => a.clone(),
        Some(Value::Null) | None => Map::new(),
        Some(_) => return Err(GraphError::bad_request("'assignment' must be an object.")),
    };
    check_properties(
        &assignment,
        ASSIGNMENT_PROPERTIES,
        "accessPackageAssignment",
    )?;
    let justification = optional_string(body, "justification")?;
    let answers = match body.get("answers") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => vec![],
        Some(_) => return Err(GraphError::bad_request("'answers' must be an array.")),
    };
    let schedule = match body.get("schedule") {
        Some(s @ Value::Object(_)) => s.clone(),
        _ => render::unspecified_schedule(),
    };

    let now = state.clock.now();
    let mut world = state.world();
    let requestor_id = caller.principal_id().to_owned();
    if let Some(user) = world.users.get(&requestor_id)
        && !user.account_enabled
    {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "UserAccountDisabled",
            "The requestor's account is disabled; a user blocked from signing in cannot request access.",
        ));
    }
    let plan = validate::plan(
        &world,
        &request_type,
        &requestor_id,
        &assignment,
        justification.as_deref(),
        &answers,
    )?;
    let stages = world
        .policies
        .get(&plan.policy_id)
        .map(|p| p.request_approval_settings.stages.len())
        .unwrap_or(0);
    let request = AssignmentRequest {
        id: uuid::Uuid::new_v4().to_string(),
        request_type: request_type.clone(),
        state: "submitted".into(),
        status: "Accepted".into(),
        created: now,
        completed: None,
        justification,
        answers: plan.answers,
        schedule,
        access_package_id: plan.access_package_id,
        policy_id: plan.policy_id,
        requestor_id,
        target_id: plan.target_id,
        assignment_id: plan.assignment_id,
        stages: (0..stages).map(|_| new_stage()).collect(),
        created_at: std::time::Instant::now(),
    };
    let mut item = render::request(&world, &request, &[])?;
    // Every documented create response (Examples 3, 4, 5, 6) shows
    // `createdDateTime: null`; the service stamps it after accepting, and
    // GET shows it.
    item["createdDateTime"] = Value::Null;
    item["@odata.context"] = json!(format!(
        "{}/$metadata#identityGovernance/entitlementManagement/assignmentRequests/$entity",
        state.graph_url("")
    ));
    world.events.push(SimEvent::RequestCreated {
        request_id: request.id.clone(),
    });
    world.requests.insert(request.id.clone(), request);
    // Processing starts at once (Graph answers `submitted` and moves on).
    world.advance_to(now);
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

fn new_stage() -> ApprovalStageState {
    ApprovalStageState {
        id: uuid::Uuid::new_v4().to_string(),
        status: "NotStarted".into(),
        started: None,
        deadline: None,
        escalate_at: None,
        escalated: false,
        approver_ids: vec![],
        review_result: "NotReviewed".into(),
        reviewed_by: None,
        reviewed_at: None,
        justification: String::new(),
        decided_at: None,
    }
}

/// Enum members are matched case-insensitively (v1.0 doc examples send
/// `UserAdd`) and stored with the CSDL's spelling.
fn request_type(body: &Map<String, Value>) -> GraphResult<String> {
    let raw = match body.get("requestType") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(GraphError::bad_request("'requestType' must be a string.")),
        None => {
            return Err(GraphError::bad_request(
                "The property 'requestType' is required.",
            ));
        }
    };
    REQUEST_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(raw))
        .map(|t| (*t).to_owned())
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "Requested value '{raw}' was not found for 'requestType'; this operation accepts {}.",
                REQUEST_TYPES.join(", ")
            ))
        })
}

/// Graph refuses unknown properties on non-open types, naming them. That is
/// how the beta-era names in some v1.0 examples (`accessPackageAssignment`,
/// `isValidationOnly`) fail against v1.0.
fn check_properties(
    object: &Map<String, Value>,
    allowed: &[&str],
    type_name: &str,
) -> GraphResult<()> {
    for key in object.keys() {
        if key.starts_with('@') || allowed.contains(&key.as_str()) {
            continue;
        }
        return Err(GraphError::bad_request(format!(
            "The property '{key}' does not exist on type 'microsoft.graph.{type_name}'. Make sure to only use property names that are defined by the type or mark the type as open type."
        )));
    }
    Ok(())
}

fn optional_string(object: &Map<String, Value>, key: &str) -> GraphResult<Option<String>> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Null) | None => Ok(None),
        Some(_) => Err(GraphError::bad_request(format!(
            "'{key}' must be a string."
        ))),
    }
}

/// What a valid request is about, resolved from the body.
pub(super) struct Plan {
    pub access_package_id: String,
    pub policy_id: String,
    pub target_id: String,
    pub assignment_id: Option<String>,
    pub answers: Vec<Value>,
}

pub(super) fn user_disabled(world: &World, user_id: &str) -> bool {
    world.users.get(user_id).is_some_and(|u| !u.account_enabled)
}

pub(super) fn missing(what: &str, id: &str) -> GraphError {
    GraphError::not_found(format!("{what} '{id}' was not found."))
}

/// Entitlement management's own error codes on Graph's generic errors.
trait WithCode {
    fn with_code(self, code: &str) -> Self;
}

impl WithCode for GraphError {
    fn with_code(mut self, code: &str) -> Self {
        self.code = code.into();
        self
    }
}
