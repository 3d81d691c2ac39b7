//! The request lifecycle on the emulated clock: automatic denial,
//! escalation, assignment expiry and its warnings, each applied at its own
//! time however far the clock jumps.

use chrono::{DateTime, Duration, FixedOffset};
use serde_json::Value;
use stagegate_sandbox::tenant::SEED_TENANT;
use stagegate_sandbox::world::SimEvent;

use crate::helpers::{APPROVALS, REQUESTS, spawn_sandbox, spawn_sandbox_with_tenant};

fn time(value: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not a time: {value}")),
    )
    .unwrap()
}

#[tokio::test]
async fn an_undecided_stage_is_denied_at_its_deadline() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    sandbox.advance_clock("PT23H").await;
    assert_eq!(sandbox.request_json(&id).await["state"], "pendingApproval");
    sandbox.advance_clock("PT2H").await;
    let request = sandbox.request_json(&id).await;
    assert_eq!(request["state"], "denied");
    assert_eq!(request["status"], "Expired");
    // Denied at the deadline (created + P1D), not when the clock was read.
    assert_eq!(
        time(&request["completedDateTime"]) - time(&request["createdDateTime"]),
        Duration::days(1)
    );
    let (_, approval) = sandbox.approval("miriam", &id).await;
    let stage = &approval["stages"][0];
    assert_eq!(stage["status"], "Expired");
    assert_eq!(stage["reviewResult"], "NotReviewed");
    assert_eq!(stage["assignedToMe"], false);
    let (status, body) = sandbox
        .decide("miriam", &id, "Approve", "sorry, was away")
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        sandbox.count_events(|e| matches!(e, SimEvent::RequestApproved { .. })),
        0
    );
}

#[tokio::test]
async fn a_big_clock_jump_applies_each_step_at_its_own_time() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "global-admin").await;
    sandbox.advance_clock("PT2H").await;
    assert_eq!(sandbox.decide("miriam", &id, "Approve", "ok").await.0, 204);
    sandbox.advance_clock("P5D").await;
    let request = sandbox.request_json(&id).await;
    assert_eq!(
        (request["state"].as_str(), request["status"].as_str()),
        (Some("denied"), Some("Expired"))
    );
    let (_, approval) = sandbox.approval("bianca", &id).await;
    let stages = approval["stages"].as_array().unwrap();
    assert_eq!(stages[0]["reviewResult"], "Approved");
    assert_eq!(stages[1]["status"], "Expired");
    // Stage 2 started when Miriam approved and timed out a day later.
    assert_eq!(
        time(&request["completedDateTime"]) - time(&stages[0]["reviewedDateTime"]),
        Duration::days(1)
    );
}

#[tokio::test]
async fn stage_two_escalates_to_patti_after_four_hours() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "priv-role-admin").await;
    assert_eq!(sandbox.decide("miriam", &id, "Approve", "ok").await.0, 204);
    let (_, before) = sandbox.approval("patti", &id).await;
    assert_eq!(before["stages"][1]["assignedToMe"], false);
    assert_eq!(
        sandbox.decide("patti", &id, "Approve", "early").await.0,
        403
    );

    sandbox.advance_clock("PT3H59M").await;
    assert_eq!(sandbox.request_json(&id).await["status"], "PendingApproval");
    sandbox.advance_clock("PT2M").await;
    let request = sandbox.request_json(&id).await;
    assert_eq!(request["state"], "pendingApproval");
    assert_eq!(request["status"], "PendingApprovalEscalated");
    let patti = sandbox.user_token("patti", false).await;
    let (_, mine) = sandbox
        .graph_get(
            &patti,
            &format!("{APPROVALS}/filterByCurrentUser(on='approver')"),
        )
        .await;
    assert_eq!(mine["value"][0]["id"], id.as_str());

    let stage2 = sandbox.current_stage_id(&id);
    assert_eq!(
        sandbox
            .decide("patti", &id, "Approve", "covering for the team")
            .await
            .0,
        204
    );
    let token = sandbox.user_token("megan", false).await;
    let (_, s) = sandbox
        .graph_get(&token, &format!("{APPROVALS}/{id}/stages/{stage2}"))
        .await;
    assert_eq!(s["reviewedBy"]["displayName"], "Patti Fernandez");
    let (_, approval) = sandbox.approval("megan", &id).await;
    assert_eq!(
        approval["stages"][2]["assignedToMe"], true,
        "stage 3 started"
    );
}

#[tokio::test]
async fn primary_approvers_can_still_decide_after_escalation() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "priv-role-admin").await;
    assert_eq!(sandbox.decide("miriam", &id, "Approve", "ok").await.0, 204);
    sandbox.advance_clock("PT5H").await;
    assert_eq!(
        sandbox.request_json(&id).await["status"],
        "PendingApprovalEscalated"
    );
    assert_eq!(
        sandbox.decide("lee", &id, "Deny", "not justified").await.0,
        204
    );
    let request = sandbox.request_json(&id).await;
    assert_eq!(
        (request["state"].as_str(), request["status"].as_str()),
        (Some("denied"), Some("Denied"))
    );
}

#[tokio::test]
async fn the_assignment_expires_after_eight_hours() {
    let sandbox = spawn_sandbox().await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    assert_eq!(sandbox.decide("lee", &id, "Approve", "").await.0, 204);
    let assignment_id = sandbox.request_json(&id).await["assignment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = |e: &SimEvent| {
        *e == SimEvent::AssignmentRemoved {
            assignment_id: assignment_id.clone(),
        }
    };
    sandbox.advance_clock("PT7H59M").await;
    assert_eq!(
        sandbox.request_json(&id).await["assignment"]["state"],
        "delivered"
    );
    assert_eq!(sandbox.count_events(removed), 0);

    sandbox.advance_clock("PT2M").await;
    let assignment = &sandbox.request_json(&id).await["assignment"];
    assert_eq!(
        (assignment["state"].as_str(), assignment["status"].as_str()),
        (Some("expired"), Some("Expired"))
    );
    assert_eq!(
        time(&assignment["expiredDateTime"]),
        time(&assignment["schedule"]["expiration"]["endDateTime"])
    );
    sandbox.request_json(&id).await;
    assert_eq!(
        sandbox.count_events(removed),
        1,
        "pushed once, however often it is read"
    );
    // An 8-hour assignment never crosses the 14-day or 1-day thresholds.
    assert_eq!(
        sandbox.count_events(|e| matches!(e, SimEvent::AssignmentExpiring { .. })),
        0
    );
    // The package can be requested again.
    let (status, body) = sandbox
        .request_package("alex", "helpdesk-admin", "INC-9")
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn expiry_warnings_fire_fourteen_days_and_one_day_before() {
    let tenant = SEED_TENANT.replace(
        "display_name = \"Single-stage approval\"\nallowed_requestors = [\"it-operations\"]\nassignment_duration = \"PT8H\"",
        "display_name = \"Single-stage approval\"\nallowed_requestors = [\"it-operations\"]\nassignment_duration = \"P30D\"",
    );
    assert_ne!(tenant, SEED_TENANT);
    let sandbox = spawn_sandbox_with_tenant(Some(tenant)).await;
    let id = sandbox.submit("alex", "helpdesk-admin").await;
    assert_eq!(sandbox.decide("isaiah", &id, "Approve", "").await.0, 204);
    let assignment_id = sandbox.request_json(&id).await["assignment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_event = sandbox.state.world().events.len();
    sandbox.advance_clock("P16D").await;
    sandbox.request_json(&id).await;
    let expiring = |days| SimEvent::AssignmentExpiring {
        assignment_id: assignment_id.clone(),
        days,
    };
    assert_eq!(sandbox.state.world().events[first_event..], [expiring(14)]);

    sandbox.advance_clock("P20D").await;
    let assignment = sandbox.request_json(&id).await["assignment"].clone();
    let events = sandbox.state.world().events[first_event..].to_vec();
    assert_eq!(
        events,
        vec![
            expiring(14),
            expiring(1),
            SimEvent::AssignmentRemoved {
                assignment_id: assignment_id.clone()
            },
        ]
    );
    let start = time(&assignment["schedule"]["startDateTime"]);
    assert_eq!(
        time(&assignment["expiredDateTime"]) - start,
        Duration::days(30)
    );
}

#[tokio::test]
async fn the_lifecycle_is_idempotent_at_the_same_instant() {
    let sandbox = spawn_sandbox().await;
    let pending = sandbox.submit("alex", "global-admin").await;
    let delivered = sandbox.submit("diego", "helpdesk-admin").await;
    assert_eq!(
        sandbox.decide("lee", &delivered, "Approve", "").await.0,
        204
    );
    let app = sandbox.app_token().await;
    let (status, _) = sandbox.graph_get(&app, REQUESTS).await;
    assert_eq!(status, 200);

    let mut world = sandbox.state.world();
    let now = sandbox.state.clock.now() + Duration::hours(9);
    world.advance_to(now);
    let once = format!("{:?}", *world);
    world.advance_to(now);
    assert_eq!(once, format!("{:?}", *world));
    // Going back in time undoes nothing.
    world.advance_to(now - Duration::hours(2));
    assert_eq!(once, format!("{:?}", *world));
    assert_eq!(world.requests[&pending].state, "pendingApproval");
    let assignment = world.requests[&delivered].assignment_id.clone().unwrap();
    assert_eq!(world.assignments[&assignment].state, "expired");
}
