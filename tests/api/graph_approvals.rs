//! Emulated Graph: approving and denying access package requests, stage by
//! stage, as the right people (`reviewedBy` proves who decided).

use serde_json::{Value, json};
use stagegate_sandbox::world::SimEvent;

use crate::helpers::{APPROVALS, TestSandbox, spawn_sandbox};

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Approves the stage in progress as `persona` and checks the stage now
/// reads as decided by them.
async fn approve_as(sandbox: &TestSandbox, persona: &str, id: &str) {
    let stage = sandbox.current_stage_id(id);
    let (status, body) = sandbox
        .decide(
            persona,
            id,
            "Approve",
            &format!("{persona}: verified the ticket"),
        )
        .await;
    assert_eq!(status, 204, "{persona}: {body}");
    let token = sandbox.user_token(persona, false).await;
    let (status, s) = sandbox
        .graph_get(&token, &format!("{APPROVALS}/{id}/stages/{stage}"))
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["reviewResult"], "Approved");
    assert_eq!(s["status"], "Completed");
    assert_eq!(s["reviewedBy"]["id"], sandbox.persona_id(persona).as_str());
    assert_eq!(
        s["justification"],
        format!("{persona}: verified the ticket")
    );
    assert!(s["reviewedDateTime"].is_string());
    assert_eq!(s["assignedToMe"], false);
}

fn assert_delivered(request: &Value) {
    assert_eq!(request["state"], "delivered", "{request}");
    assert_eq!(request["status"], "Delivered");
    assert!(request["completedDateTime"].is_string());
    assert_eq!(request["assignment"]["state"], "delivered");
    assert_eq!(request["assignment"]["status"], "Delivered");
}

#[tokio::test]
async fn one_stage_request_is_delivered_after_a_group_member_approves() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    let (status, approval) = sandbox.approval("lee", &id).await;
    assert_eq!(status, 200, "{approval}");
    assert_eq!(approval["id"], id.as_str());
    let stage = &approval["stages"][0];
    assert_eq!(stage["status"], "InProgress");
    assert_eq!(stage["reviewResult"], "NotReviewed");
    assert_eq!(stage["assignedToMe"], true);
    assert!(stage["reviewedBy"].is_null());
    let (_, as_miriam) = sandbox.approval("miriam", &id).await;
    assert_eq!(as_miriam["stages"][0]["assignedToMe"], false);

    approve_as(&sandbox, "lee", &id).await;
    let request = sandbox.request_json(&id).await;
    assert_delivered(&request);
    let assignment_id = request["assignment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        sandbox.count_events(|e| *e
            == SimEvent::RequestApproved {
                request_id: id.clone()
            }),
        1
    );
    assert_eq!(
        sandbox.count_events(|e| *e
            == SimEvent::AssignmentGranted {
                request_id: id.clone(),
                assignment_id: assignment_id.clone()
            }),
        1
    );
}

#[tokio::test]
async fn two_stage_global_admin_needs_the_manager_then_the_ciso() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let (_, as_bianca) = sandbox.approval("bianca", &id).await;
    assert_eq!(
        as_bianca["stages"].as_array().unwrap().len(),
        1,
        "stage 2 not started"
    );
    assert_eq!(as_bianca["stages"][0]["assignedToMe"], false);
    let (status, _) = sandbox.decide("bianca", &id, "Approve", "early").await;
    assert_eq!(status, 403, "Bianca is not a stage 1 approver");

    approve_as(&sandbox, "miriam", &id).await;
    let (_, approval) = sandbox.approval("bianca", &id).await;
    let stages = approval["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0]["reviewedBy"]["displayName"], "Miriam Graham");
    assert_eq!(stages[1]["status"], "InProgress");
    assert_eq!(stages[1]["assignedToMe"], true);
    assert_eq!(sandbox.request_json(&id).await["state"], "pendingApproval");

    approve_as(&sandbox, "bianca", &id).await;
    let request = sandbox.request_json(&id).await;
    assert_delivered(&request);
    // The emulator noted in real time (for the bench) when it created the
    // request and recorded each decision, in order.
    {
        let world = sandbox.state.world();
        let r = &world.requests[&id];
        let decided: Vec<_> = r.stages.iter().filter_map(|s| s.decided_at).collect();
        assert_eq!(decided.len(), 2);
        assert!(r.created_at <= decided[0] && decided[0] <= decided[1]);
    }
    // 8 h package expiry, resolved to an end time.
    let start = chrono::DateTime::parse_from_rfc3339(
        request["assignment"]["schedule"]["startDateTime"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let end = chrono::DateTime::parse_from_rfc3339(
        request["assignment"]["schedule"]["expiration"]["endDateTime"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(end - start, chrono::Duration::hours(8));
}

#[tokio::test]
async fn three_stage_priv_role_admin_goes_manager_group_member_second_level_manager() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "priv-role-admin").await;
    approve_as(&sandbox, "miriam", &id).await;
    // Bianca approves through SG-Security-Leads nested in SG-Security-Approvers.
    approve_as(&sandbox, "bianca", &id).await;
    let (status, _) = sandbox.decide("miriam", &id, "Approve", "again").await;
    assert_eq!(status, 403, "stage 3 is the second-level manager");
    approve_as(&sandbox, "megan", &id).await;
    let request = sandbox.request_json(&id).await;
    assert_delivered(&request);
    let (_, approval) = sandbox.approval("megan", &id).await;
    let reviewers: Vec<&str> = approval["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reviewedBy"]["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(
        reviewers,
        vec!["Miriam Graham", "Bianca Pisani", "Megan Bowen"]
    );
}

#[tokio::test]
async fn a_denial_ends_the_request() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let (status, _) = sandbox
        .decide("miriam", &id, "Deny", "No change ticket on file")
        .await;
    assert_eq!(status, 204);
    let request = sandbox.request_json(&id).await;
    assert_eq!(
        (request["state"].as_str(), request["status"].as_str()),
        (Some("denied"), Some("Denied"))
    );
    assert!(request["assignment"].is_null());
    let (_, approval) = sandbox.approval("miriam", &id).await;
    let stages = approval["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 1, "stage 2 never starts");
    assert_eq!(stages[0]["reviewResult"], "Denied");
    assert_eq!(stages[0]["justification"], "No change ticket on file");
    assert_eq!(
        sandbox.count_events(|e| matches!(
            e,
            SimEvent::RequestApproved { .. } | SimEvent::AssignmentGranted { .. }
        )),
        0
    );
}

#[tokio::test]
async fn approvals_are_delegated_only() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    let stage = sandbox.current_stage_id(&id);
    let app = sandbox.app_token().await;
    let (status, body) = sandbox
        .graph_patch(
            &app,
            &format!("{APPROVALS}/{id}/stages/{stage}"),
            &json!({ "reviewResult": "Approve" }),
        )
        .await;
    assert_eq!((status, code(&body)), (403, "Authorization_RequestDenied"));
    for path in [
        format!("{APPROVALS}/{id}"),
        format!("{APPROVALS}/{id}/stages"),
    ] {
        let (status, _) = sandbox.graph_get(&app, &path).await;
        assert_eq!(status, 403, "{path}");
    }
    // A delegated token without EntitlementManagement.ReadWrite.All can't decide.
    let read_only = sandbox
        .user_token_with("lee", &["EntitlementMgmt-SubjectAccess.ReadWrite"])
        .await;
    let (status, _) = sandbox
        .graph_patch(
            &read_only,
            &format!("{APPROVALS}/{id}/stages/{stage}"),
            &json!({ "reviewResult": "Approve" }),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(sandbox.request_json(&id).await["state"], "pendingApproval");
}

#[tokio::test]
async fn only_current_stage_approvers_decide_and_never_on_their_own_request() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let (status, body) = sandbox.decide("lee", &id, "Approve", "ok").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = sandbox.decide("alex", &id, "Approve", "it's me").await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("own"));

    // Miriam requests a package her own group could approve: she never can.
    let own = sandbox.submit("miriam", "helpdesk-admin").await;
    let world_approvers = sandbox.state.world().requests[&own].stages[0]
        .approver_ids
        .clone();
    assert!(!world_approvers.contains(&sandbox.persona_id("miriam")));
    let (status, _) = sandbox.decide("miriam", &own, "Approve", "self").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_second_decision_in_the_same_stage_conflicts() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    assert_eq!(sandbox.decide("lee", &id, "Approve", "").await.0, 204);
    let (status, body) = sandbox.decide("isaiah", &id, "Deny", "too late").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Lee Gu")
    );
    let (status, _) = sandbox.decide("lee", &id, "Deny", "changed my mind").await;
    assert_eq!(status, 409);
    assert_eq!(sandbox.request_json(&id).await["state"], "delivered");
}

#[tokio::test]
async fn approver_justification_is_required_when_the_policy_says_so() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let (status, body) = sandbox.decide("miriam", &id, "Approve", "  ").await;
    assert_eq!(status, 400, "{body}");
    let stage = sandbox.current_stage_id(&id);
    let token = sandbox.user_token("miriam", true).await;
    let (status, _) = sandbox
        .graph_patch(
            &token,
            &format!("{APPROVALS}/{id}/stages/{stage}"),
            &json!({ "reviewResult": "Approve" }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = sandbox
        .graph_patch(
            &token,
            &format!("{APPROVALS}/{id}/stages/{stage}"),
            &json!({ "reviewResult": "Maybe", "justification": "x" }),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = sandbox
        .graph_patch(
            &token,
            &format!("{APPROVALS}/{id}/stages/{stage}"),
            &json!({ "reviewResult": "Approve", "status": "Completed" }),
        )
        .await;
    assert_eq!(status, 400, "read-only properties can't be written");
    // The helpdesk policy does not require one.
    let other = sandbox.submit("diego", "helpdesk-admin").await;
    assert_eq!(sandbox.decide("lee", &other, "Approve", "").await.0, 204);
    // With a justification Miriam's decision goes through.
    approve_as(&sandbox, "miriam", &id).await;
}

#[tokio::test]
async fn filter_by_current_user_lists_what_awaits_the_approver() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let path = format!("{APPROVALS}/filterByCurrentUser(on='approver')");
    let pending_for = |persona: &'static str| {
        let sandbox = &sandbox;
        let path = path.clone();
        async move {
            let token = sandbox.user_token(persona, false).await;
            let (status, body) = sandbox.graph_get(&token, &path).await;
            assert_eq!(status, 200, "{body}");
            body["value"].as_array().unwrap().clone()
        }
    };
    let miriam = pending_for("miriam").await;
    assert_eq!(miriam.len(), 1);
    assert_eq!(miriam[0]["id"], id.as_str());
    assert_eq!(miriam[0]["@odata.type"], "#microsoft.graph.approval");
    assert!(pending_for("bianca").await.is_empty());
    approve_as(&sandbox, "miriam", &id).await;
    assert!(pending_for("miriam").await.is_empty());
    assert_eq!(pending_for("bianca").await.len(), 1);

    let token = sandbox.user_token("bianca", false).await;
    let (_, expanded) = sandbox
        .graph_get(&token, &format!("{path}?$expand=stages"))
        .await;
    assert_eq!(expanded["value"][0]["stages"][1]["assignedToMe"], true);
    let app = sandbox.app_token().await;
    assert_eq!(sandbox.graph_get(&app, &path).await.0, 403);
    let (status, _) = sandbox
        .graph_get(
            &token,
            &format!("{APPROVALS}/filterByCurrentUser(on='target')"),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn missing_manager_falls_back_to_adele_and_disabled_approvers_never_count() {
    let sandbox = spawn_sandbox().await;
    // Diego has no manager: stage 1's fallback approver Adele decides.
    let id = sandbox.submit("diego", "global-admin").await;
    let (_, as_adele) = sandbox.approval("adele", &id).await;
    assert_eq!(as_adele["stages"][0]["assignedToMe"], true);
    let (status, _) = sandbox.decide("miriam", &id, "Approve", "not mine").await;
    assert_eq!(status, 403);
    approve_as(&sandbox, "adele", &id).await;

    // SG-Security-Approvers holds Lee, Isaiah, disabled Nestor and (nested)
    // Bianca; Nestor is never an approver.
    let helpdesk = sandbox.submit("alex", "helpdesk-admin").await;
    let approvers = sandbox.state.world().requests[&helpdesk].stages[0]
        .approver_ids
        .clone();
    let mut expected: Vec<String> = ["lee", "isaiah", "bianca"]
        .iter()
        .map(|k| sandbox.persona_id(k))
        .collect();
    let mut actual = approvers.clone();
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected);
    assert!(!approvers.contains(&sandbox.persona_id("nestor")));
}

#[tokio::test]
async fn unknown_approvals_and_stages_are_not_found() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    let token = sandbox.user_token("miriam", true).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    let (status, body) = sandbox
        .graph_get(&token, &format!("{APPROVALS}/{missing}"))
        .await;
    assert_eq!((status, code(&body)), (404, "ResourceNotFound"));
    let (status, _) = sandbox
        .graph_patch(
            &token,
            &format!("{APPROVALS}/{id}/stages/{missing}"),
            &json!({ "reviewResult": "Approve", "justification": "x" }),
        )
        .await;
    assert_eq!(status, 404);
    // Stage 2 exists but has not started: not addressable yet.
    let stage2 = sandbox.state.world().requests[&id].stages[1].id.clone();
    let (status, _) = sandbox
        .graph_get(&token, &format!("{APPROVALS}/{id}/stages/{stage2}"))
        .await;
    assert_eq!(status, 404);
}
