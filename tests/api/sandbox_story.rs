//! The seed articles' story at the Graph level, across every emulated
//! family: request → two approvals → delivery → PIM eligibility →
//! self-activation with MFA → membership → expiry removes it all.

use serde_json::json;

use crate::helpers::{group_id, spawn_sandbox};

const PIM: &str = "/identityGovernance/privilegedAccess/group";

#[tokio::test]
async fn request_approve_deliver_activate_and_expire() {
    let sandbox = spawn_sandbox().await;
    let alex = sandbox.persona_id("alex");
    let group = group_id(&sandbox, "grp-elig-globaladmin");

    let id = sandbox.submit("alex", "global-admin").await;
    let (status, _) = sandbox
        .decide("miriam", &id, "Approve", "Known incident INC-4711")
        .await;
    assert_eq!(status, 204);
    let (status, _) = sandbox
        .decide("bianca", &id, "Approve", "Break-glass rotation approved")
        .await;
    assert_eq!(status, 204);
    let request = sandbox.request_json(&id).await;
    assert_eq!(request["state"], "delivered");

    // Delivery made Alex eligible in the PIM-managed group, not a member.
    let app = sandbox.app_token().await;
    let (status, eligible) = sandbox
        .graph_get(
            &app,
            &format!("{PIM}/eligibilitySchedules?$filter=principalId eq '{alex}'"),
        )
        .await;
    assert_eq!(status, 200, "{eligible}");
    assert_eq!(eligible["value"].as_array().unwrap().len(), 1);
    assert_eq!(eligible["value"][0]["groupId"], group);
    assert!(!sandbox.state.world().groups[&group].members.contains(&alex));

    // Activation needs MFA: refused with a plain token, granted with MFA.
    let activate = json!({
        "accessId": "member", "principalId": alex, "groupId": group,
        "action": "selfActivate", "justification": "Rotate the break-glass certificate",
        "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT4H" } },
    });
    let no_mfa = sandbox.user_token("alex", false).await;
    let (status, body) = sandbox
        .graph_post(
            &no_mfa,
            &format!("{PIM}/assignmentScheduleRequests"),
            &activate,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MfaRule"),
        "{body}"
    );
    let mfa = sandbox.user_token("alex", true).await;
    let (status, body) = sandbox
        .graph_post(
            &mfa,
            &format!("{PIM}/assignmentScheduleRequests"),
            &activate,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(sandbox.state.world().groups[&group].members.contains(&alex));

    // The activation ends after PT4H; the package expires after PT8H and
    // the eligibility with it.
    sandbox.advance_clock("PT4H1M").await;
    assert!(!sandbox.state.world().groups[&group].members.contains(&alex));
    sandbox.advance_clock("PT4H").await;
    let request = sandbox.request_json(&id).await;
    assert_eq!(request["assignment"]["state"], "expired", "{request}");
    let (_, eligible) = sandbox
        .graph_get(
            &app,
            &format!("{PIM}/eligibilitySchedules?$filter=principalId eq '{alex}'"),
        )
        .await;
    assert_eq!(eligible["value"].as_array().unwrap().len(), 0, "{eligible}");
}
