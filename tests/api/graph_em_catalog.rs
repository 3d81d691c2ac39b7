//! The emulated Graph entitlement management catalog side: catalogs, access
//! packages (with resource role scopes) and assignment policies, checked
//! against Microsoft's examples (shared/graph/examples/em-assignmentpolicy.md,
//! api/accesspackage-get.md, api/accesspackage-list-resourcerolescopes.md)
//! and the v1.0 CSDL's names and enum values.

use serde_json::{Value, json};
use stagegate_sandbox::tenant::SEED_TENANT;

use crate::helpers::{TestSandbox, spawn_sandbox, spawn_sandbox_with_tenant};

const EM: &str = "/identityGovernance/entitlementManagement";
const CATALOG: &str = "ca7a1090-0000-4000-8000-0000000ca7a1";
const GLOBAL_ADMIN: &str = "ac0e5500-0000-4000-8000-000000000001";
const BREAK_GLASS: &str = "ac0e5500-0000-4000-8000-000000000004";
const GLOBAL_ADMIN_POLICY: &str = "9011c700-0000-4000-8000-000000000001";
const GRP_ELIG_GLOBALADMIN: &str = "0e7a0010-0000-4000-8000-000000000010";

async fn get(sandbox: &TestSandbox, token: &str, path: &str) -> (u16, Value) {
    let response = sandbox
        .http
        .get(sandbox.graph(&format!("{EM}{path}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn context(sandbox: &TestSandbox, tail: &str) -> String {
    format!(
        "{}/$metadata#identityGovernance/entitlementManagement/{tail}",
        sandbox.graph("")
    )
}

#[tokio::test]
async fn catalogs_list_and_get() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(&sandbox, &app, "/catalogs").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["@odata.context"], context(&sandbox, "catalogs"));
    let catalog = &body["value"][0];
    assert_eq!(catalog["id"], CATALOG);
    assert_eq!(catalog["displayName"], "Privileged Access");
    assert_eq!(catalog["catalogType"], "userManaged");
    assert_eq!(catalog["state"], "published");
    assert_eq!(catalog["isExternallyVisible"], false);

    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/catalogs/{CATALOG}?$select=displayName"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["displayName"], "Privileged Access");
    assert!(body.get("catalogType").is_none());

    let (status, body) = get(
        &sandbox,
        &app,
        "/catalogs/ca7a1090-0000-4000-8000-00000000dead",
    )
    .await;
    assert_eq!(status, 404);
    assert!(body["error"]["innerError"]["request-id"].is_string());
}

#[tokio::test]
async fn access_packages_are_listed_with_hidden_ones_and_filtered() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(&sandbox, &app, "/accessPackages").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["@odata.context"], context(&sandbox, "accessPackages"));
    let packages = body["value"].as_array().unwrap();
    assert_eq!(packages.len(), 4);
    let hidden = packages.iter().find(|p| p["id"] == BREAK_GLASS).unwrap();
    assert_eq!(hidden["isHidden"], true);
    // api/accesspackage-get.md's example shape.
    for key in [
        "id",
        "displayName",
        "description",
        "isHidden",
        "createdDateTime",
        "modifiedDateTime",
    ] {
        assert!(packages[0].get(key).is_some(), "{key}");
    }

    let (_, body) = get(&sandbox, &app, "/accessPackages?$filter=isHidden eq false").await;
    assert_eq!(body["value"].as_array().unwrap().len(), 3);
    let (_, body) = get(
        &sandbox,
        &app,
        "/accessPackages?$filter=displayName eq 'AP – Global Admin Eligibility Request'",
    )
    .await;
    assert_eq!(body["value"][0]["id"], GLOBAL_ADMIN);
    let (_, body) = get(
        &sandbox,
        &app,
        &format!("/accessPackages?$filter=catalog/id eq '{CATALOG}'&$top=2"),
    )
    .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 2);
    assert!(body["@odata.nextLink"].is_string());
}

#[tokio::test]
async fn package_expands_resource_role_scopes_catalog_and_policies() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/accessPackages/{GLOBAL_ADMIN}?$expand=resourceRoleScopes($expand=role,scope)"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let scopes = body["resourceRoleScopes"].as_array().unwrap();
    assert_eq!(scopes.len(), 1);
    let role = &scopes[0]["role"];
    let scope = &scopes[0]["scope"];
    assert_eq!(role["originSystem"], "AadGroup");
    assert_eq!(role["originId"], format!("Member_{GRP_ELIG_GLOBALADMIN}"));
    assert_eq!(role["displayName"], "Member");
    assert_eq!(scope["originSystem"], "AadGroup");
    assert_eq!(scope["originId"], GRP_ELIG_GLOBALADMIN);
    assert_eq!(scope["isRootScope"], true);
    assert_eq!(
        scopes[0]["id"],
        format!(
            "{}_{}",
            role["id"].as_str().unwrap(),
            scope["id"].as_str().unwrap()
        )
    );

    let (_, body) = get(
        &sandbox,
        &app,
        &format!("/accessPackages/{GLOBAL_ADMIN}?$expand=resourceRoleScopes"),
    )
    .await;
    assert!(body["resourceRoleScopes"][0].get("role").is_none());

    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/accessPackages/{GLOBAL_ADMIN}?$expand=catalog,assignmentPolicies"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["catalog"]["id"], CATALOG);
    let policies = body["assignmentPolicies"].as_array().unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0]["id"], GLOBAL_ADMIN_POLICY);
}

#[tokio::test]
async fn global_admin_policy_has_its_two_stages_and_ticket_question() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/assignmentPolicies/{GLOBAL_ADMIN_POLICY}?$expand=questions"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let settings = &body["requestApprovalSettings"];
    assert_eq!(settings["isApprovalRequiredForAdd"], true);
    let stages = settings["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    let adele = sandbox.persona_id("adele");
    let bianca = sandbox.persona_id("bianca");
    assert_eq!(
        stages[0]["primaryApprovers"],
        json!([{ "@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1 }])
    );
    assert_eq!(
        stages[0]["fallbackPrimaryApprovers"][0]["@odata.type"],
        "#microsoft.graph.singleUser"
    );
    assert_eq!(stages[0]["fallbackPrimaryApprovers"][0]["userId"], adele);
    assert_eq!(
        stages[1]["primaryApprovers"][0]["@odata.type"],
        "#microsoft.graph.singleUser"
    );
    assert_eq!(stages[1]["primaryApprovers"][0]["userId"], bianca);
    for stage in stages {
        assert_eq!(stage["durationBeforeAutomaticDenial"], "P1D");
        assert_eq!(stage["isApproverJustificationRequired"], true);
        assert_eq!(stage["isEscalationEnabled"], false);
        assert_eq!(stage["approverInformationVisibility"], "default");
        for list in ["escalationApprovers", "fallbackEscalationApprovers"] {
            assert!(stage[list].is_array(), "{list}");
        }
    }
    let question = &body["questions"][0];
    assert_eq!(
        question["@odata.type"],
        "#microsoft.graph.accessPackageTextInputQuestion"
    );
    assert_eq!(question["text"], "ITSM ticket number");
    assert_eq!(question["isRequired"], true);
    assert_eq!(question["regexPattern"], "^[A-Z]+-[0-9]+$");
    assert!(question["id"].is_string());

    // `questions` is a navigation in v1.0: absent unless expanded.
    let (_, body) = get(
        &sandbox,
        &app,
        &format!("/assignmentPolicies/{GLOBAL_ADMIN_POLICY}"),
    )
    .await;
    assert!(body.get("questions").is_none());
}

#[tokio::test]
async fn policy_get_replays_microsofts_example_shape() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/assignmentPolicies/{GLOBAL_ADMIN_POLICY}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["@odata.context"],
        context(&sandbox, "assignmentPolicies/$entity")
    );
    // em-assignmentpolicy.md, B. Example 1: every documented property.
    for key in [
        "id",
        "displayName",
        "description",
        "allowedTargetScope",
        "createdDateTime",
        "modifiedDateTime",
        "specificAllowedTargets",
        "expiration",
        "requestorSettings",
        "requestApprovalSettings",
    ] {
        assert!(body.get(key).is_some(), "{key} missing");
    }
    assert_eq!(
        body["expiration"],
        json!({ "type": "afterDuration", "duration": "PT8H" })
    );
    assert_eq!(body["allowedTargetScope"], "specificDirectoryUsers");
    assert_eq!(
        body["specificAllowedTargets"][0]["@odata.type"],
        "#microsoft.graph.groupMembers"
    );
    for key in [
        "enableTargetsToSelfAddAccess",
        "enableTargetsToSelfUpdateAccess",
        "enableTargetsToSelfRemoveAccess",
        "allowCustomAssignmentSchedule",
        "enableOnBehalfRequestorsToAddAccess",
        "enableOnBehalfRequestorsToUpdateAccess",
        "enableOnBehalfRequestorsToRemoveAccess",
    ] {
        assert!(body["requestorSettings"][key].is_boolean(), "{key}");
    }
    for key in ["isApprovalRequiredForAdd", "isApprovalRequiredForUpdate"] {
        assert!(body["requestApprovalSettings"][key].is_boolean(), "{key}");
    }

    // B. Example 2 on the v1.0 path: custom extensions expand to an empty
    // collection for now. The example's beta-era `accessPackageAssignmentPolicies`
    // segment does not exist in v1.0.
    let (status, body) = get(
        &sandbox,
        &app,
        &format!(
            "/assignmentPolicies/{GLOBAL_ADMIN_POLICY}?$expand=customExtensionStageSettings($expand=customExtension)"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customExtensionStageSettings"], json!([]));
    let (status, _) = get(
        &sandbox,
        &app,
        &format!("/accessPackageAssignmentPolicies/{GLOBAL_ADMIN_POLICY}"),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn policies_list_filters_and_expands() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(&sandbox, &app, "/assignmentPolicies").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().unwrap().len(), 4);
    assert_eq!(
        body["@odata.context"],
        context(&sandbox, "assignmentPolicies")
    );

    let (_, body) = get(
        &sandbox,
        &app,
        &format!("/assignmentPolicies?$filter=accessPackage/id eq '{GLOBAL_ADMIN}'&$expand=accessPackage,catalog"),
    )
    .await;
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 1);
    assert_eq!(value[0]["id"], GLOBAL_ADMIN_POLICY);
    assert_eq!(
        value[0]["accessPackage"]["displayName"],
        "AP – Global Admin Eligibility Request"
    );
    assert_eq!(value[0]["catalog"]["id"], CATALOG);

    let (_, body) = get(
        &sandbox,
        &app,
        "/assignmentPolicies?$filter=displayName eq 'Three-stage approval'&$select=displayName,requestApprovalSettings",
    )
    .await;
    let policy = &body["value"][0];
    assert_eq!(
        policy["requestApprovalSettings"]["stages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(policy.get("expiration").is_none());
}

#[tokio::test]
async fn package_policies_path_answers_like_the_real_service() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/accessPackages/{GLOBAL_ADMIN}/assignmentPolicies"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("No HTTP resource was found that matches the request URI")
    );
}

#[tokio::test]
async fn em_reads_need_an_entitlement_management_permission() {
    let sandbox = spawn_sandbox().await;
    let narrow = sandbox.user_token_with("alex", &["User.Read"]).await;
    for path in ["/catalogs", "/accessPackages", "/assignmentPolicies"] {
        let (status, body) = get(&sandbox, &narrow, path).await;
        assert_eq!(status, 403, "{path}");
        assert_eq!(error_code(&body), "Authorization_RequestDenied");
    }
    let delegated = sandbox
        .user_token_with("alex", &["EntitlementManagement.ReadWrite.All"])
        .await;
    let (status, _) = get(&sandbox, &delegated, "/accessPackages").await;
    assert_eq!(status, 200);
    let app = sandbox.app_token().await;
    let (status, _) = get(&sandbox, &app, "/assignmentPolicies").await;
    assert_eq!(
        status, 200,
        "the seeded app holds EntitlementManagement.Read.All"
    );

    let tenant = SEED_TENANT.replacen("  \"EntitlementManagement.Read.All\",\n", "", 1);
    assert_ne!(tenant, SEED_TENANT);
    let sandbox = spawn_sandbox_with_tenant(Some(tenant)).await;
    let app = sandbox.app_token().await;
    let (status, body) = get(&sandbox, &app, "/accessPackages").await;
    assert_eq!(status, 403);
    assert_eq!(error_code(&body), "Authorization_RequestDenied");
}

#[tokio::test]
async fn unsupported_query_options_and_names_are_400() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    for path in [
        "/accessPackages?$orderby=displayName".to_owned(),
        "/accessPackages?$expand=incompatibleGroups".to_owned(),
        "/accessPackages?$select=nope".to_owned(),
        "/accessPackages?$filter=nope eq 'x'".to_owned(),
        format!("/accessPackages/{GLOBAL_ADMIN}?$expand=resourceRoleScopes($expand=resource)"),
        "/assignmentPolicies?$search=x".to_owned(),
        format!("/assignmentPolicies/{GLOBAL_ADMIN_POLICY}?$top=1"),
    ] {
        let (status, body) = get(&sandbox, &app, &path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"]["message"].is_string());
    }
}
