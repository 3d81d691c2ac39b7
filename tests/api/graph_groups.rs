//! The emulated Graph directory's groups: list/get, members, transitive
//! members through nested groups, owners, permissions and the "limited
//! information" rendering of members the caller may not read.

use serde_json::Value;

use crate::graph_directory::{SECURITY_APPROVERS, error_code, get, sandbox_with_permissions};
use crate::helpers::spawn_sandbox;

const SECURITY_LEADS: &str = "0e7a0003-0000-4000-8000-000000000003";

#[tokio::test]
async fn groups_list_and_get_with_graph_errors() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let (status, body) = get(&sandbox, &app, "/groups").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["@odata.context"],
        format!("{}/$metadata#groups", sandbox.graph(""))
    );
    let groups = sandbox.tenant().await["groups"].as_array().unwrap().len();
    assert_eq!(body["value"].as_array().unwrap().len(), groups);

    let (_, body) = get(
        &sandbox,
        &app,
        "/groups?$filter=startswith(displayName,'GRP-ELIG')",
    )
    .await;
    let value = body["value"].as_array().unwrap();
    assert_eq!(value.len(), 3);
    assert!(value.iter().all(|g| g["isAssignableToRole"] == true));

    let (status, body) = get(&sandbox, &app, &format!("/groups/{SECURITY_APPROVERS}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["displayName"], "SG-Security-Approvers");
    assert_eq!(body["securityEnabled"], true);
    assert_eq!(body["groupTypes"], serde_json::json!([]));

    let (status, body) = get(&sandbox, &app, "/groups/not-a-guid").await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "Request_BadRequest");
    assert_eq!(
        body["error"]["message"],
        "Invalid object identifier 'not-a-guid'."
    );
    let unknown = "0e7a0999-0000-4000-8000-000000000999";
    let (status, body) = get(&sandbox, &app, &format!("/groups/{unknown}/members")).await;
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "Request_ResourceNotFound");
}

fn typed_ids(body: &Value) -> Vec<(String, String)> {
    body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["@odata.type"].as_str().unwrap().to_owned(),
                m["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn transitive_members_reach_bianca_through_the_nested_group() {
    let sandbox = spawn_sandbox().await;
    let app = sandbox.app_token().await;
    let bianca = (
        "#microsoft.graph.user".to_owned(),
        sandbox.persona_id("bianca"),
    );
    let leads = (
        "#microsoft.graph.group".to_owned(),
        SECURITY_LEADS.to_owned(),
    );

    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/groups/{SECURITY_APPROVERS}/members"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["@odata.context"],
        format!("{}/$metadata#directoryObjects", sandbox.graph(""))
    );
    let direct = typed_ids(&body);
    assert!(direct.contains(&leads));
    assert!(!direct.contains(&bianca), "Bianca is only a nested member");
    assert!(direct.contains(&(
        "#microsoft.graph.user".to_owned(),
        sandbox.persona_id("lee")
    )));

    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/groups/{SECURITY_APPROVERS}/transitiveMembers"),
    )
    .await;
    assert_eq!(status, 200);
    let transitive = typed_ids(&body);
    assert!(transitive.contains(&bianca));
    assert!(transitive.contains(&leads));
    assert_eq!(transitive.len(), direct.len() + 1);

    let (_, body) = get(
        &sandbox,
        &app,
        &format!("/groups/{SECURITY_APPROVERS}/transitiveMembers?$filter=startswith(displayName,'Bianca')&$select=displayName"),
    )
    .await;
    assert_eq!(typed_ids(&body), [bianca]);

    let (status, body) = get(
        &sandbox,
        &app,
        &format!("/groups/{SECURITY_APPROVERS}/owners"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], serde_json::json!([]));
}

#[tokio::test]
async fn group_reads_need_group_member_read_all() {
    let sandbox = spawn_sandbox().await;
    let alex = sandbox.user_token("alex", false).await;
    let (status, body) = get(
        &sandbox,
        &alex,
        &format!("/groups/{SECURITY_APPROVERS}/members"),
    )
    .await;
    assert_eq!(
        status, 403,
        "the seeded app has no delegated group permission"
    );
    assert_eq!(error_code(&body), "Authorization_RequestDenied");

    let sandbox = sandbox_with_permissions(&[
        (
            "\"User.ReadBasic.All\",\n",
            "\"User.ReadBasic.All\", \"GroupMember.Read.All\",\n",
        ),
        ("  \"User.Read.All\",\n", ""),
    ])
    .await;
    let delegated = sandbox
        .user_token_with("alex", &["GroupMember.Read.All", "User.ReadBasic.All"])
        .await;
    let (status, body) = get(
        &sandbox,
        &delegated,
        &format!("/groups/{SECURITY_LEADS}/members"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"][0]["displayName"], "Bianca Pisani");

    // An app that may read groups but not users sees members with limited
    // information: type and id only.
    let app = sandbox.app_token().await;
    let (status, body) = get(&sandbox, &app, &format!("/groups/{SECURITY_LEADS}/members")).await;
    assert_eq!(status, 200, "{body}");
    let member = &body["value"][0];
    assert_eq!(member["@odata.type"], "#microsoft.graph.user");
    assert_eq!(member["id"], sandbox.persona_id("bianca"));
    assert_eq!(member["displayName"], Value::Null);
}
