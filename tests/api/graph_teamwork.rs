//! The emulated Graph's Teams app catalog and installed apps: the
//! `externalId` filter, installing (201, then 409), unknown users and apps
//! (404), the permission checks and a policy that blocks the app (403).

use serde_json::{Value, json};
use stagegate_sandbox::graph::teamwork::CATALOG_APP_ID;

use crate::helpers::spawn_sandbox;

const INSTALL_PERMISSION: &str = "TeamsAppInstallation.ReadWriteSelfForUser.All";

fn bind() -> Value {
    json!({
        "teamsApp@odata.bind":
            format!("https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{CATALOG_APP_ID}")
    })
}

fn installs(key: &str) -> String {
    format!("/users/{key}/teamwork/installedApps")
}

#[tokio::test]
async fn the_catalog_finds_the_app_by_its_manifest_id() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    let client_id = sandbox.state.world().app.client_id.clone();
    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!("/appCatalogs/teamsApps?$filter=externalId eq '{client_id}'"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let apps = body["value"].as_array().unwrap();
    assert_eq!(apps.len(), 1, "{body}");
    assert_eq!(apps[0]["id"], CATALOG_APP_ID);
    assert_ne!(
        apps[0]["id"],
        client_id.as_str(),
        "catalog id ≠ manifest id"
    );
    assert_eq!(apps[0]["distributionMethod"], "organization");
    let (status, body) = sandbox
        .graph_get(
            &token,
            "/appCatalogs/teamsApps?$filter=externalId eq 'f31b1263-ba99-435a-a679-911d24850d7c'",
        )
        .await;
    assert_eq!(
        (status, body["value"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}

#[tokio::test]
async fn install_answers_201_then_409_and_lists_the_installation() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    let miriam = sandbox.persona_id("miriam");
    let (status, body) = sandbox.graph_get(&token, &installs(&miriam)).await;
    assert_eq!(
        (status, body["value"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, body) = sandbox
        .graph_post(&token, &installs(&miriam), &bind())
        .await;
    assert_eq!(status, 201, "{body}");
    // By UPN too, as Graph allows: the same person, already installed.
    let (status, body) = sandbox
        .graph_post(&token, &installs("miriam@contoso.example"), &bind())
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("Conflict"))
    );
    // The Bot Connector reads the same install.
    assert!(sandbox.state.teams.store().installs.contains_key(&miriam));
    let (status, body) = sandbox
        .graph_get(
            &token,
            &format!(
                "{}?$expand=teamsApp&$filter=teamsApp/id eq '{CATALOG_APP_ID}'",
                installs(&miriam)
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"][0]["teamsApp"]["id"], CATALOG_APP_ID);
    let (_, plain) = sandbox.graph_get(&token, &installs(&miriam)).await;
    assert!(plain["value"][0].get("teamsApp").is_none(), "{plain}");
}

#[tokio::test]
async fn unknown_users_disabled_users_and_unknown_apps_are_404() {
    let sandbox = spawn_sandbox().await;
    let token = sandbox.app_token().await;
    let nestor = sandbox.persona_id("nestor");
    for user in ["0badc0de-0000-4000-8000-000000000000", nestor.as_str()] {
        let (status, body) = sandbox.graph_post(&token, &installs(user), &bind()).await;
        assert_eq!(status, 404, "{user}: {body}");
    }
    let miriam = sandbox.persona_id("miriam");
    let other = json!({ "teamsApp@odata.bind":
        "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/22f73bbe-f67a-4dea-bd54-54cac718cb2b" });
    let (status, _) = sandbox.graph_post(&token, &installs(&miriam), &other).await;
    assert_eq!(status, 404);
    let (status, _) = sandbox
        .graph_post(&token, &installs(&miriam), &json!({ "teamsApp": "x" }))
        .await;
    assert_eq!(status, 400);
    assert!(sandbox.state.teams.store().installs.is_empty());
}

#[tokio::test]
async fn without_the_permission_or_against_the_policy_install_is_403() {
    let sandbox = spawn_sandbox().await;
    let miriam = sandbox.persona_id("miriam");
    sandbox
        .state
        .world()
        .app
        .application_permissions
        .retain(|p| p != INSTALL_PERMISSION && p != "AppCatalog.Read.All");
    let token = sandbox.app_token().await;
    let (status, body) = sandbox
        .graph_post(&token, &installs(&miriam), &bind())
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authorization_RequestDenied"))
    );
    let (status, _) = sandbox.graph_get(&token, "/appCatalogs/teamsApps").await;
    assert_eq!(status, 403);
    // Granted, but a Teams app permission policy blocks the app for her.
    sandbox
        .state
        .world()
        .app
        .application_permissions
        .push(INSTALL_PERMISSION.into());
    sandbox
        .state
        .teams
        .store()
        .app_blocked_for
        .insert(miriam.clone());
    let token = sandbox.app_token().await;
    let (status, body) = sandbox
        .graph_post(&token, &installs(&miriam), &bind())
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(sandbox.state.teams.store().installs.is_empty());
    // A user's delegated token without a TeamsAppInstallation scope.
    let alex = sandbox.user_token("alex", false).await;
    let (status, _) = sandbox.graph_get(&alex, &installs(&miriam)).await;
    assert_eq!(status, 403);
}
