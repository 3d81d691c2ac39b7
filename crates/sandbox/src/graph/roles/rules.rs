//! The 17 rules of a PIM for Groups policy (ids and order of the documented
//! Example 3 of policyroot-list-rolemanagementpolicies; property names from
//! the CSDL `unifiedRoleManagementPolicy*Rule` types), rendered from
//! [`GroupPolicy`].

use serde_json::{Value, json};

use crate::clock::format_iso_duration;
use crate::graph::pim::policy::GroupPolicy;

fn target(caller: &str, level: &str) -> Value {
    json!({
        "caller": caller, "operations": ["all"], "level": level,
        "inheritableSettings": [], "enforcedSettings": [],
    })
}

fn enablement(id: &str, rules: &[String], caller: &str, level: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": id, "enabledRules": rules, "target": target(caller, level),
    })
}

fn expiration(id: &str, maximum: chrono::Duration, caller: &str, level: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": id, "isExpirationRequired": true,
        "maximumDuration": format_iso_duration(maximum), "target": target(caller, level),
    })
}

fn notification(recipient: &str, caller: &str, level: &str) -> Value {
    let scope = if caller == "Admin" {
        "Admin"
    } else {
        "EndUser"
    };
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
        "id": format!("Notification_{recipient}_{scope}_{level}"),
        "notificationType": "Email", "recipientType": recipient, "notificationLevel": "All",
        "isDefaultRecipientsEnabled": true, "notificationRecipients": [],
        "target": target(caller, level),
    })
}

/// The 17 rules, in the order of the documented Example 3.
pub fn rules(policy: &GroupPolicy) -> Vec<Value> {
    let (admin, user) = ("Admin", "EndUser");
    let (elig, assign) = ("Eligibility", "Assignment");
    vec![
        enablement("Enablement_Admin_Eligibility", &[], admin, elig),
        expiration(
            "Expiration_Admin_Eligibility",
            policy.max_admin_eligibility,
            admin,
            elig,
        ),
        notification("Requestor", admin, elig),
        notification("Approver", admin, elig),
        notification("Admin", admin, elig),
        enablement(
            "Enablement_Admin_Assignment",
            &policy.admin_enabled_rules,
            admin,
            assign,
        ),
        expiration(
            "Expiration_Admin_Assignment",
            policy.max_admin_assignment,
            admin,
            assign,
        ),
        notification("Admin", admin, assign),
        notification("Requestor", admin, assign),
        notification("Approver", admin, assign),
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
            "id": "Approval_EndUser_Assignment",
            "target": target(user, assign),
            // Activation needs no PIM approval here: the approval stages
            // are the access package's (docs/architecture.md, "The
            // workflow").
            "setting": {
                "isApprovalRequired": false,
                "isApprovalRequiredForExtension": false,
                "isRequestorJustificationRequired": policy.requires("Justification"),
                "approvalMode": "SingleStage",
                "approvalStages": [{
                    "approvalStageTimeOutInDays": 1, "isApproverJustificationRequired": true,
                    "escalationTimeInMinutes": 0, "isEscalationEnabled": false,
                    "primaryApprovers": [], "escalationApprovers": [],
                }],
            },
        }),
        json!({
            "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
            "id": "AuthenticationContext_EndUser_Assignment",
            "isEnabled": policy.authentication_context.is_some(),
            "claimValue": policy.authentication_context,
            "target": target(user, assign),
        }),
        enablement(
            "Enablement_EndUser_Assignment",
            &policy.enduser_enabled_rules,
            user,
            assign,
        ),
        expiration(
            "Expiration_EndUser_Assignment",
            policy.max_activation,
            user,
            assign,
        ),
        notification("Admin", user, assign),
        notification("Requestor", user, assign),
        notification("Approver", user, assign),
    ]
}
