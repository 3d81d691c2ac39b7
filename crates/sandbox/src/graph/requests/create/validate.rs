//! What Graph refuses before it accepts an assignment request: package and
//! policy, who the request is for, the policy's scope and self-service
//! switches, existing assignments and open requests, justification and
//! answers. Codes are listed in the parent module's table.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Plan, WithCode, missing, user_disabled};
use crate::graph::error::{GraphError, GraphResult};
use crate::graph::requests::open_request;
use crate::world::{AssignmentPolicy, Question, SubjectSet, World};

pub(super) fn plan(
    world: &World,
    request_type: &str,
    requestor_id: &str,
    assignment: &Map<String, Value>,
    justification: Option<&str>,
    answers: &[Value],
) -> GraphResult<Plan> {
    let self_service = request_type.starts_with("user");
    let (package_id, policy_id, target_id, assignment_id) = match request_type {
        "userAdd" | "adminAdd" => {
            let package_id = required(assignment, "accessPackageId")?;
            if !world.access_packages.contains_key(&package_id) {
                return Err(missing("Access package", &package_id));
            }
            let target_id = if self_service {
                if let Some(t) = string(assignment, "targetId")?
                    && t != requestor_id
                {
                    return Err(GraphError::new(
                        StatusCode::FORBIDDEN,
                        "RequestNotAllowedByPolicy",
                        "A userAdd request is made by the signed-in user for themselves; the targetId must be the caller's own id (use adminAdd to assign someone else).",
                    ));
                }
                requestor_id.to_owned()
            } else {
                admin_target(world, assignment)?
            };
            let policy_id = match string(assignment, "assignmentPolicyId")? {
                Some(p) => p,
                None if self_service => pick_policy(world, &package_id, &target_id)?,
                None => return Err(required_error("assignmentPolicyId")),
            };
            (package_id, policy_id, target_id, None)
        }
        _ => {
            let existing = existing_assignment(world, assignment, requestor_id, self_service)?;
            let a = &world.assignments[&existing];
            (
                a.access_package_id.clone(),
                a.policy_id.clone(),
                a.target_id.clone(),
                Some(existing),
            )
        }
    };
    let policy = world
        .policies
        .get(&policy_id)
        .ok_or_else(|| missing("Assignment policy", &policy_id))?;
    if policy.access_package_id != package_id {
        return Err(GraphError::bad_request(format!(
            "The assignment policy '{policy_id}' does not belong to access package '{package_id}'."
        ))
        .with_code("InvalidAssignmentPolicy"));
    }
    if self_service {
        check_self_service(world, policy, request_type, &target_id)?;
    }
    let adds = request_type.ends_with("Add");
    if adds
        && world.assignments.values().any(|a| {
            a.state == "delivered" && a.access_package_id == package_id && a.target_id == target_id
        })
    {
        return Err(GraphError::bad_request(format!(
            "The target already has an active assignment to access package '{package_id}'; request an update (userUpdate) to extend it."
        ))
        .with_code("AccessPackageAlreadyAssigned"));
    }
    if !request_type.ends_with("Remove")
        && let Some(open) = open_request(world, &package_id, &target_id)
    {
        return Err(GraphError::bad_request(format!(
            "There is already an open request '{}' ({}) for this access package and target.",
            open.id, open.state
        ))
        .with_code("ExistingOpenRequest"));
    }
    let answers = if request_type.ends_with("Remove") {
        vec![]
    } else {
        let settings = &policy.request_approval_settings;
        let blank = justification.is_none_or(|j| j.trim().is_empty());
        if self_service && settings.is_requestor_justification_required && blank {
            return Err(GraphError::bad_request(
                "The assignment policy requires the requestor to provide a justification.",
            )
            .with_code("RequestorJustificationRequired"));
        }
        validate_answers(policy, answers, self_service)?
    };
    Ok(Plan {
        access_package_id: package_id,
        policy_id,
        target_id,
        assignment_id,
        answers,
    })
}

fn admin_target(world: &World, assignment: &Map<String, Value>) -> GraphResult<String> {
    let target_id = match string(assignment, "targetId")? {
        Some(t) => t,
        None => {
            let email = assignment
                .get("target")
                .and_then(|t| t.get("email"))
                .and_then(Value::as_str)
                .ok_or_else(|| required_error("targetId"))?;
            // Users outside the directory would be invited through a
            // connected organization, which the sandbox does not emulate.
            world
                .users
                .values()
                .find(|u| u.mail.eq_ignore_ascii_case(email))
                .map(|u| u.id.clone())
                .ok_or_else(|| missing("User with email", email))?
        }
    };
    if !world.users.contains_key(&target_id) {
        return Err(missing("User", &target_id));
    }
    if user_disabled(world, &target_id) {
        return Err(GraphError::bad_request(
            "The target user's account is disabled (sign-in blocked); it cannot be assigned.",
        )
        .with_code("UserAccountDisabled"));
    }
    Ok(target_id)
}

/// The assignment an update or removal is about: `assignment.id`, or for
/// self-service the caller's active assignment to `assignment.accessPackageId`.
fn existing_assignment(
    world: &World,
    assignment: &Map<String, Value>,
    requestor_id: &str,
    self_service: bool,
) -> GraphResult<String> {
    let found = match string(assignment, "id")? {
        Some(id) => world
            .assignments
            .get(&id)
            .ok_or_else(|| missing("Access package assignment", &id))?,
        None if self_service => {
            let package_id = required(assignment, "accessPackageId")?;
            world
                .assignments
                .values()
                .find(|a| {
                    a.access_package_id == package_id
                        && a.target_id == requestor_id
                        && a.state == "delivered"
                })
                .ok_or_else(|| {
                    GraphError::bad_request(format!(
                        "The caller has no active assignment to access package '{package_id}'."
                    ))
                    .with_code("AssignmentNotFound")
                })?
        }
        None => return Err(required_error("id")),
    };
    if self_service && found.target_id != requestor_id {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "RequestNotAllowedByPolicy",
            "End users can only update or remove their own assignments.",
        ));
    }
    if found.state != "delivered" {
        return Err(GraphError::bad_request(format!(
            "The assignment '{}' is {} and cannot be changed.",
            found.id, found.state
        ))
        .with_code("AssignmentNotActive"));
    }
    Ok(found.id.clone())
}

/// With no `assignmentPolicyId` (create Example 3), the policy that applies
/// to the requestor is used.
fn pick_policy(world: &World, package_id: &str, user_id: &str) -> GraphResult<String> {
    let mut policies: Vec<&AssignmentPolicy> = world
        .policies
        .values()
        .filter(|p| p.access_package_id == package_id)
        .collect();
    policies.sort_by(|a, b| a.id.cmp(&b.id));
    policies
        .iter()
        .find(|p| in_scope(world, p, user_id))
        .or(policies.first())
        .map(|p| p.id.clone())
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "Access package '{package_id}' has no assignment policy."
            ))
            .with_code("InvalidAssignmentPolicy")
        })
}

fn check_self_service(
    world: &World,
    policy: &AssignmentPolicy,
    request_type: &str,
    user_id: &str,
) -> GraphResult<()> {
    if !in_scope(world, policy, user_id) {
        return Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "RequestorNotInPolicyScope",
            format!(
                "The requestor is not allowed to request access package assignments under policy '{}'.",
                policy.id
            ),
        ));
    }
    let s = &policy.requestor_settings;
    let enabled = match request_type {
        "userAdd" => s.enable_targets_to_self_add_access,
        "userUpdate" => s.enable_targets_to_self_update_access,
        _ => s.enable_targets_to_self_remove_access,
    };
    if enabled {
        Ok(())
    } else {
        Err(GraphError::new(
            StatusCode::FORBIDDEN,
            "RequestNotAllowedByPolicy",
            format!(
                "Policy '{}' does not allow {request_type} requests.",
                policy.id
            ),
        ))
    }
}

/// Whether `user_id` may request under `policy` (`allowedTargetScope`,
/// `specificAllowedTargets` with transitive group membership).
fn in_scope(world: &World, policy: &AssignmentPolicy, user_id: &str) -> bool {
    match policy.allowed_target_scope.as_str() {
        "allMemberUsers" | "allDirectoryUsers" => world.users.contains_key(user_id),
        "specificDirectoryUsers" => policy.specific_allowed_targets.iter().any(|t| match t {
            SubjectSet::SingleUser { user_id: u, .. } => u == user_id,
            SubjectSet::GroupMembers { group_id, .. } => {
                world.transitive_user_members(group_id).contains(user_id)
            }
            _ => false,
        }),
        _ => false,
    }
}

/// Checks answers against the policy's questions and returns them in the
/// shape Graph stores (`accessPackageAnswerString`). `require` = every
/// `isRequired` question must be answered (self-service requests).
fn validate_answers(
    policy: &AssignmentPolicy,
    answers: &[Value],
    require: bool,
) -> GraphResult<Vec<Value>> {
    let mut stored = Vec::new();
    for answer in answers {
        let kind = answer.get("@odata.type").and_then(Value::as_str);
        if kind.is_some_and(|k| {
            k.trim_start_matches('#') != "microsoft.graph.accessPackageAnswerString"
        }) {
            return Err(GraphError::bad_request(format!(
                "Answer type '{}' is not supported; use '#microsoft.graph.accessPackageAnswerString'.",
                kind.unwrap_or_default()
            )));
        }
        let question_id = answer
            .get("answeredQuestion")
            .and_then(|q| q.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_answer("Each answer needs answeredQuestion.id.".into()))?;
        let question = policy
            .questions
            .iter()
            .find(|q| q.id() == question_id)
            .ok_or_else(|| {
                invalid_answer(format!(
                    "Question '{question_id}' is not a question of policy '{}'.",
                    policy.id
                ))
            })?;
        let value = answer.get("value").and_then(Value::as_str).ok_or_else(|| {
            invalid_answer(format!(
                "The answer to question '{question_id}' needs a string value."
            ))
        })?;
        let question_type = match question {
            Question::TextInput {
                regex_pattern,
                text,
                ..
            } => {
                // .NET `Regex.IsMatch` semantics: anchors are the pattern's.
                let pattern = regex_pattern.as_deref().filter(|p| !p.is_empty());
                if let Some(re) = pattern.and_then(|p| regex::Regex::new(p).ok())
                    && !re.is_match(value)
                {
                    return Err(invalid_answer(format!(
                        "The answer to '{text}' does not match the required format."
                    )));
                }
                "#microsoft.graph.accessPackageTextInputQuestion"
            }
            Question::MultipleChoice { choices, text, .. } => {
                let allowed = choices
                    .iter()
                    .any(|c| c.get("actualValue").and_then(Value::as_str) == Some(value));
                if !allowed {
                    return Err(invalid_answer(format!(
                        "'{value}' is not one of the choices of '{text}'."
                    )));
                }
                "#microsoft.graph.accessPackageMultipleChoiceQuestion"
            }
        };
        stored.push(json!({
            "@odata.type": "#microsoft.graph.accessPackageAnswerString",
            "value": value,
            "displayValue": answer.get("displayValue").cloned().unwrap_or(Value::Null),
            "answeredQuestion": { "@odata.type": question_type, "id": question_id },
        }));
    }
    if require {
        for q in policy.questions.iter().filter(|q| q.is_required()) {
            let answered = stored.iter().any(|a| {
                a["answeredQuestion"]["id"] == q.id()
                    && a["value"].as_str().is_some_and(|v| !v.trim().is_empty())
            });
            if !answered {
                let text = match q {
                    Question::TextInput { text, .. } | Question::MultipleChoice { text, .. } => {
                        text
                    }
                };
                return Err(GraphError::bad_request(format!(
                    "The required question '{text}' ({}) was not answered.",
                    q.id()
                ))
                .with_code("QuestionNotAnswered"));
            }
        }
    }
    Ok(stored)
}

fn invalid_answer(message: String) -> GraphError {
    GraphError::bad_request(message).with_code("InvalidAnswer")
}

fn string(object: &Map<String, Value>, key: &str) -> GraphResult<Option<String>> {
    match object.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(Value::String(_)) | Some(Value::Null) | None => Ok(None),
        Some(_) => Err(GraphError::bad_request(format!(
            "'assignment.{key}' must be a string."
        ))),
    }
}

fn required(object: &Map<String, Value>, key: &str) -> GraphResult<String> {
    string(object, key)?.ok_or_else(|| required_error(key))
}

fn required_error(key: &str) -> GraphError {
    GraphError::bad_request(format!(
        "The property 'assignment.{key}' is required for this requestType."
    ))
}
