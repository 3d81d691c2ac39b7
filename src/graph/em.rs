//! Entitlement management: assignment requests, policies and approvals.
//! Permissions (docs/architecture.md, "Graph permissions"): reading
//! requests and policies works with the app token; creating
//! `userAdd`/`userUpdate` requests, `cancel`, reading approvals and deciding
//! stages are delegated-only, done with the person's own token.

use reqwest::Method;
use serde::Serialize;
use serde_json::json;

use super::models::{Approval, AssignmentPolicy, AssignmentRequest};
use super::{Auth, GraphClient, GraphError, encode};
use stagegate_domain::approval::RequestState;
use stagegate_domain::ids::{AccessPackageId, ObjectId, PolicyId, QuestionId, RequestId, StageId};

pub const EM: &str = "/identityGovernance/entitlementManagement";
const REQUESTS: &str = "/identityGovernance/entitlementManagement/assignmentRequests";
const APPROVALS: &str =
    "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";
const REQUEST_EXPAND: &str = "$expand=requestor,accessPackage,assignment";
const MAX_PAGES: usize = 50;

/// A request with its requestor, access package and assignment (app token).
pub async fn get_request(
    graph: &GraphClient,
    id: &RequestId,
) -> Result<AssignmentRequest, GraphError> {
    graph
        .get(Auth::App, &format!("{REQUESTS}/{id}?{REQUEST_EXPAND}"))
        .await
}

/// Requests for `packages` in `state` (e.g. `pendingApproval`), every page.
pub async fn list_requests(
    graph: &GraphClient,
    packages: &[AccessPackageId],
    states: &[RequestState],
) -> Result<Vec<AssignmentRequest>, GraphError> {
    if packages.is_empty() || states.is_empty() {
        return Ok(Vec::new());
    }
    let by_state: Vec<String> = states.iter().map(|s| format!("state eq '{s}'")).collect();
    let by_package: Vec<String> = packages
        .iter()
        .map(|p| format!("accessPackage/id eq '{p}'"))
        .collect();
    let filter = format!(
        "({}) and ({})",
        by_state.join(" or "),
        by_package.join(" or ")
    );
    let path = format!("{REQUESTS}?$filter={}&{REQUEST_EXPAND}", encode(&filter));
    graph.get_all(Auth::App, &path, MAX_PAGES).await
}

/// An assignment policy (app token).
pub async fn get_policy(
    graph: &GraphClient,
    id: &PolicyId,
) -> Result<AssignmentPolicy, GraphError> {
    graph
        .get(Auth::App, &format!("{EM}/assignmentPolicies/{id}"))
        .await
}

/// What a `userAdd` request asks for.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub target: &'a ObjectId,
    pub package: &'a AccessPackageId,
    pub policy: &'a PolicyId,
    pub ticket_question: &'a QuestionId,
    pub ticket: &'a str,
    pub justification: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    request_type: &'static str,
    assignment: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<String>,
    answers: Vec<serde_json::Value>,
}

/// `userAdd` (or `userUpdate` to extend `assignment`) made by the person
/// themselves with their delegated token.
pub async fn create_request(
    graph: &GraphClient,
    token: &secrecy::SecretString,
    request: &NewRequest<'_>,
    extend: Option<&str>,
) -> Result<AssignmentRequest, GraphError> {
    let mut assignment = json!({
        "targetId": request.target.to_string(),
        "assignmentPolicyId": request.policy.to_string(),
        "accessPackageId": request.package.to_string(),
    });
    if let Some(existing) = extend {
        assignment["id"] = json!(existing);
    }
    let body = CreateBody {
        request_type: if extend.is_some() {
            "userUpdate"
        } else {
            "userAdd"
        },
        assignment,
        justification: request.justification.map(str::to_owned),
        answers: vec![json!({
            "@odata.type": "#microsoft.graph.accessPackageAnswerString",
            "value": request.ticket,
            "answeredQuestion": {
                "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                "id": request.ticket_question.to_string(),
            },
        })],
    };
    graph.post(Auth::User(token), REQUESTS, &body).await
}

/// `POST …/assignmentRequests/{id}/cancel` as the requester.
pub async fn cancel_request(
    graph: &GraphClient,
    token: &secrecy::SecretString,
    id: &RequestId,
) -> Result<(), GraphError> {
    graph
        .send_no_content(
            Auth::User(token),
            Method::POST,
            &format!("{REQUESTS}/{id}/cancel"),
            None::<&()>,
        )
        .await
}

/// The approval of a request with its started stages (delegated).
pub async fn get_approval(
    graph: &GraphClient,
    token: &secrecy::SecretString,
    id: &RequestId,
) -> Result<Approval, GraphError> {
    graph
        .get(Auth::User(token), &format!("{APPROVALS}/{id}"))
        .await
}

/// Approvals awaiting the token holder's decision (delegated).
pub async fn approvals_awaiting_me(
    graph: &GraphClient,
    token: &secrecy::SecretString,
) -> Result<Vec<Approval>, GraphError> {
    graph
        .get_all(
            Auth::User(token),
            &format!("{APPROVALS}/filterByCurrentUser(on='approver')?$expand=stages"),
            MAX_PAGES,
        )
        .await
}

/// Requests targeting the token holder (delegated), newest state first.
pub async fn my_requests(
    graph: &GraphClient,
    token: &secrecy::SecretString,
) -> Result<Vec<AssignmentRequest>, GraphError> {
    graph
        .get_all(
            Auth::User(token),
            &format!("{REQUESTS}/filterByCurrentUser(on='target')?$expand=accessPackage"),
            MAX_PAGES,
        )
        .await
}

/// `Approve` or `Deny` as written to `reviewResult`; a domain value, so the
/// store keeps it in the same spelling.
pub use stagegate_domain::approval::Review;

/// Decides a stage as the token holder. `Conflict` means someone decided
/// it first (or it expired): not an error for the person, a reason to
/// reconcile.
pub async fn decide_stage(
    graph: &GraphClient,
    token: &secrecy::SecretString,
    request: &RequestId,
    stage: &StageId,
    review: Review,
    justification: &str,
) -> Result<(), GraphError> {
    let body = json!({ "reviewResult": review, "justification": justification });
    graph
        .send_no_content(
            Auth::User(token),
            Method::PATCH,
            &format!("{APPROVALS}/{request}/stages/{stage}"),
            Some(&body),
        )
        .await
}
