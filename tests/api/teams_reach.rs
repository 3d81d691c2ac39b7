//! Reaching an approver on Teams who never opened the bot: the bot installs
//! its app for them through Graph (proactive installation), opens the 1:1
//! chat with their object id and posts the card; where Graph refuses, the
//! requester and the security channel are told who and why.

use std::sync::Arc;

use serde_json::Value;
use stagegate::chat::port::{ChatError, ChatPort, DirectoryPerson};
use stagegate_sandbox::teams::store::Install;

use crate::helpers::spawn_sandbox;
use crate::teams_adapter_support::{
    TeamsApp, card_text, spawn_teams_app, spawn_teams_app_in, verbs,
};

const REQUEST: &str = "request global-admin TICKET-7 patch the DCs";

/// Alex (linked) asks for global-admin; Miriam, his manager, approves
/// stage 1 and has never written to the bot.
async fn alex_asks(app: &TeamsApp) {
    app.install_in_team().await;
    app.link("alex").await;
    app.say("alex", REQUEST).await;
}

/// `key`'s installed apps as Graph lists them (app token, `$expand`).
async fn installed_apps(app: &TeamsApp, key: &str) -> Vec<Value> {
    let token = app.sandbox.app_token().await;
    let id = app.sandbox.persona_id(key);
    let (status, body) = app
        .sandbox
        .graph_get(
            &token,
            &format!("/users/{id}/teamwork/installedApps?$expand=teamsApp"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_array().cloned().unwrap_or_default()
}

fn installed(app: &TeamsApp, key: &str) -> bool {
    let id = app.sandbox.persona_id(key);
    app.sandbox.state.teams.store().installs.contains_key(&id)
}

#[tokio::test]
async fn a_first_time_approver_gets_the_card_and_graph_shows_the_install() {
    let app = spawn_teams_app().await;
    assert!(!installed(&app, "miriam"), "Miriam starts without the app");
    alex_asks(&app).await;
    let (_, card) = app.live_card("miriam", &["approve", "deny"]).await;
    assert!(card_text(&card).contains("Alex Wilber"), "{card}");
    let apps = installed_apps(&app, "miriam").await;
    assert_eq!(apps.len(), 1, "{apps:?}");
    let client_id = app.sandbox.state.world().app.client_id.clone();
    assert_eq!(apps[0]["teamsApp"]["externalId"], client_id.as_str());
    assert_eq!(apps[0]["teamsApp"]["distributionMethod"], "organization");
    // Filed as the identity her own activities are filed under, so the
    // next card needs no Graph call.
    let miriam = app.sandbox.persona_id("miriam");
    let tenant = app.sandbox.state.tenant_id();
    let found = app
        .bot
        .port
        .find_person(&directory_person(&miriam))
        .await
        .expect("found again (409: already installed)");
    assert_eq!(
        (
            found.platform.as_str(),
            found.workspace.as_str(),
            found.user.as_str()
        ),
        ("teams", tenant.as_str(), miriam.as_str())
    );
}

#[tokio::test]
async fn an_approver_with_the_app_installed_but_unknown_to_the_bot_gets_the_card() {
    let app = spawn_teams_app().await;
    // Installed (by an admin's setup policy, say) without the bot hearing
    // of it: Graph answers the install with 409, which means "installed".
    let miriam = app.sandbox.persona_id("miriam");
    app.sandbox
        .state
        .teams
        .store()
        .installs
        .insert(miriam, Install::default());
    alex_asks(&app).await;
    app.live_card("miriam", &["approve", "deny"]).await;
    assert_eq!(installed_apps(&app, "miriam").await.len(), 1);
}

#[tokio::test]
async fn an_install_the_policy_refuses_is_reported_to_the_requester_and_security() {
    let app = spawn_teams_app().await;
    let miriam = app.sandbox.persona_id("miriam");
    app.sandbox
        .state
        .teams
        .store()
        .app_blocked_for
        .insert(miriam);
    no_slack_account(&app, "miriam");
    alex_asks(&app).await;
    assert!(!installed(&app, "miriam"));
    assert!(app.cards("miriam").await.is_empty(), "no chat was opened");
    let alert = told_miriam_unreachable(&app).await;
    assert!(
        alert.contains("Teams app permission policies")
            && alert.contains("TeamsAppInstallation.ReadWriteSelfForUser.All"),
        "the reason says what an admin can do: {alert}"
    );
    assert!(
        app.alerts().await.iter().all(|a| verbs(a).is_empty()),
        "alerts carry no buttons"
    );
}

/// `key` has no Slack account either, so Slack cannot reach them instead
/// (the sandbox configures both platforms).
fn no_slack_account(app: &TeamsApp, key: &str) {
    app.sandbox
        .state
        .slack
        .lock()
        .users
        .retain(|_, u| u.key != key);
}

/// The requester and the security channel were told that Miriam could
/// not be reached; returns the alert's text.
async fn told_miriam_unreachable(app: &TeamsApp) -> String {
    let told = app
        .cards("alex")
        .await
        .into_iter()
        .map(|(_, c)| card_text(&c))
        .any(|t| t.contains("can't reach Miriam Graham"));
    assert!(told, "Alex is told Miriam cannot be reached");
    let alerts = app.alerts().await;
    let alert = alerts
        .iter()
        .map(card_text)
        .find(|t| t.contains("Approver unreachable"))
        .unwrap_or_else(|| panic!("no unreachable alert: {alerts:?}"));
    assert!(alert.contains("Miriam Graham"), "{alert}");
    alert
}

#[tokio::test]
async fn without_the_install_permission_the_requester_and_security_are_told() {
    let sandbox = Arc::new(spawn_sandbox().await);
    // The admin never consented to the installation permission.
    sandbox
        .state
        .world()
        .app
        .application_permissions
        .retain(|p| p != "TeamsAppInstallation.ReadWriteSelfForUser.All");
    let app = spawn_teams_app_in(sandbox).await;
    no_slack_account(&app, "miriam");
    alex_asks(&app).await;
    assert!(!installed(&app, "miriam"));
    let alert = told_miriam_unreachable(&app).await;
    assert!(
        alert.contains(
            "grant AppCatalog.Read.All and TeamsAppInstallation.ReadWriteSelfForUser.All"
        ),
        "the reason names the permission to grant: {alert}"
    );
}

#[tokio::test]
async fn people_graph_does_not_know_in_teams_are_unreachable() {
    let app = spawn_teams_app().await;
    // Unknown to the directory, and a disabled account (Nestor).
    let nobody = "0badc0de-0000-4000-8000-000000000000".to_owned();
    let nestor = app.sandbox.persona_id("nestor");
    for id in [nobody, nestor] {
        let outcome = app.bot.port.find_person(&directory_person(&id)).await;
        match outcome {
            Err(ChatError::Unreachable { reason, .. }) => {
                assert!(reason.contains("no Teams user"), "{reason}")
            }
            other => panic!("{id}: expected unreachable, got {other:?}"),
        }
        assert!(
            !app.sandbox.state.teams.store().installs.contains_key(&id),
            "nothing installed for {id}"
        );
    }
}

fn directory_person(id: &str) -> DirectoryPerson {
    DirectoryPerson {
        id: id.parse().expect("an object id"),
        display_name: id.to_owned(),
        mail: None,
        user_principal_name: None,
    }
}
