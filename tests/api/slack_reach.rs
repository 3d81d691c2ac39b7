//! Reaching Slack approvers who never used the bot (issue 19): the bot
//! finds them with `users.lookupByEmail` by their Entra mail, then UPN,
//! posts their card through `conversations.open`, and asks them to sign in
//! on their first decision. Who cannot be found is reported to the
//! requester and the security channel, once per burst.

use std::time::Duration;

use serde_json::{Value, json};
use stagegate::chat::port::{ChatError, ChatPort, DirectoryPerson};
use stagegate::chat::slack::SlackPort;

use crate::helpers::{eventually, spawn_sandbox};
use crate::slack_app_support::{SlackApp, shown, spawn_slack_app};
use crate::slack_support::{bot_client, driver_get};

const ASK: &str = "global-admin TICKET-123 rotate the certificate";

/// The Web API calls of `method` the emulated Slack answered so far.
async fn calls_of(app: &SlackApp, method: &str) -> Vec<Value> {
    let log = driver_get(&app.sandbox, "/calls").await;
    log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == method)
        .cloned()
        .collect()
}

fn stage_one(app: &SlackApp, request: &str) -> Option<(String, String)> {
    let world = app.sandbox.state.world();
    let stage = &world.requests[request].stages[0];
    (!stage.review_result.is_empty() && stage.review_result != "NotReviewed").then(|| {
        (
            stage.review_result.clone(),
            stage.reviewed_by.clone().unwrap_or_default(),
        )
    })
}

/// Sets `key`'s Entra `mail` (empty: none).
fn set_entra_mail(app: &SlackApp, key: &str, mail: &str) {
    let id = app.sandbox.persona_id(key);
    let mut world = app.sandbox.state.world();
    world.users.get_mut(&id).expect("a persona").mail = mail.to_owned();
}

/// `key`'s approval card is in their DM, on the DM `conversations.open`
/// gave the bot.
async fn card_reached(app: &SlackApp, key: &str) -> Value {
    let card = app.live_card(key).await;
    assert!(shown(&card).contains("1 of 2"), "{}", shown(&card));
    let opened = calls_of(app, "conversations.open").await;
    assert!(opened.iter().any(|c| c["ok"] == true), "{opened:?}");
    card
}

#[tokio::test]
async fn a_never_linked_slack_approver_gets_the_card_and_signs_in_on_first_decision() {
    let app = spawn_slack_app().await;
    // Only Alex links; Miriam (stage 1, his manager) never used the bot.
    let request = app.requested(&[], ASK).await;
    let card = card_reached(&app, "miriam").await;
    let lookups = calls_of(&app, "users.lookupByEmail").await;
    assert_eq!(lookups.len(), 1, "found by mail at once: {lookups:?}");
    // Reaching is not trusting: her decision waits for her sign-in.
    let click = app
        .click("miriam", card["ts"].as_str().unwrap(), "approve")
        .await;
    assert_eq!(click.status(), 200);
    app.submit("miriam", "Known incident TICKET-123", false)
        .await;
    app.settle().await;
    assert_eq!(
        stage_one(&app, &request),
        None,
        "not decided before sign-in"
    );
    let link = app.sign_in_link("miriam").await;
    app.sign_in(&link, "miriam").await;
    let (result, by) = eventually(|| async { stage_one(&app, &request) }).await;
    assert_eq!(
        (result.as_str(), by),
        ("Approved", app.sandbox.persona_id("miriam"))
    );
}

#[tokio::test]
async fn a_slack_approver_without_an_entra_mail_is_found_by_upn() {
    let app = spawn_slack_app().await;
    set_entra_mail(&app, "miriam", "");
    app.requested(&[], ASK).await;
    card_reached(&app, "miriam").await;
    let lookups = calls_of(&app, "users.lookupByEmail").await;
    assert_eq!(lookups.len(), 1, "{lookups:?}");
    assert_eq!(lookups[0]["ok"], true);
}

#[tokio::test]
async fn a_slack_approver_whose_mail_slack_does_not_know_is_found_by_upn() {
    let app = spawn_slack_app().await;
    set_entra_mail(&app, "miriam", "m.graham@contoso.example");
    app.requested(&[], ASK).await;
    card_reached(&app, "miriam").await;
    let lookups = calls_of(&app, "users.lookupByEmail").await;
    let errors: Vec<&Value> = lookups.iter().map(|c| &c["error"]).collect();
    assert_eq!(errors, [&json!("users_not_found"), &Value::Null]);
}

/// The requester and the security channel were told `key` cannot be
/// reached, and why.
async fn told_unreachable(app: &SlackApp, name: &str, why: &str) {
    app.wait_dm("alex", |m| {
        let text = shown(m);
        text.contains(&format!("I can't reach {name}")) && text.contains("My Access")
    })
    .await;
    eventually(|| async {
        app.settle().await;
        app.security().await.into_iter().find(|m| {
            let text = shown(m);
            text.contains("Approver unreachable") && text.contains(name) && text.contains(why)
        })
    })
    .await;
}

/// A Teams app permission policy blocks the app for `key`, so Teams cannot
/// reach them instead (the sandbox configures both platforms).
fn not_on_teams(app: &SlackApp, key: &str) {
    let id = app.sandbox.persona_id(key);
    app.sandbox.state.teams.store().app_blocked_for.insert(id);
}

#[tokio::test]
async fn an_approver_with_no_slack_account_is_reported_to_the_requester_and_security() {
    let app = spawn_slack_app().await;
    let miriam = app.user_id("miriam");
    app.sandbox.state.slack.lock().users.remove(&miriam);
    not_on_teams(&app, "miriam");
    app.requested(&[], ASK).await;
    told_unreachable(
        &app,
        "Miriam Graham",
        "no Slack account with mail miriam@contoso.example",
    )
    .await;
    assert!(app.dm("miriam").await.is_empty());
}

#[tokio::test]
async fn a_deactivated_slack_approver_is_unreachable() {
    let app = spawn_slack_app().await;
    let miriam = app.user_id("miriam");
    if let Some(user) = app.sandbox.state.slack.lock().users.get_mut(&miriam) {
        user.deleted = true;
    }
    not_on_teams(&app, "miriam");
    app.requested(&[], ASK).await;
    told_unreachable(&app, "Miriam Graham", "deactivated").await;
    let opened = calls_of(&app, "conversations.open").await;
    assert!(
        opened.iter().all(|c| c["ok"] == true),
        "no DM was tried with the deactivated account: {opened:?}"
    );
}

#[tokio::test]
async fn a_burst_of_cards_for_one_unfound_approver_costs_one_lookup() {
    let app = spawn_slack_app().await;
    let miriam = app.user_id("miriam");
    app.sandbox.state.slack.lock().users.remove(&miriam);
    not_on_teams(&app, "miriam");
    app.requested(&[], ASK).await;
    // A second request of Alex's, for another package whose first stage
    // is also his manager: a second card for the same unfound Miriam.
    app.command("alex", "/request", "priv-role-admin TICKET-124 second ask")
        .await;
    let alex = app.sandbox.persona_id("alex");
    eventually(|| async {
        app.settle().await;
        let world = app.sandbox.state.world();
        let n = world
            .requests
            .values()
            .filter(|r| r.target_id == alex)
            .count();
        (n >= 2).then_some(())
    })
    .await;
    told_unreachable(&app, "Miriam Graham", "no Slack account").await;
    app.settle().await;
    let lookups = calls_of(&app, "users.lookupByEmail").await;
    assert_eq!(lookups.len(), 1, "one lookup, then remembered: {lookups:?}");
}

#[tokio::test]
async fn without_users_read_email_the_approver_is_unreachable_and_the_admin_told_why() {
    let sandbox = spawn_sandbox().await;
    let slack = crate::slack_support::slack_of(&sandbox).await;
    let token = slack["botToken"].as_str().unwrap().to_owned();
    if let Some(scopes) = sandbox.state.slack.lock().tokens.get_mut(&token) {
        scopes.retain(|s| s != "users:read.email");
    }
    let port = SlackPort::new(bot_client(&sandbox).await);
    match port.find_person(&miriam()).await {
        Err(ChatError::Unreachable { reason, .. }) => {
            assert!(reason.contains("users:read.email"), "{reason}");
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
}

fn miriam() -> DirectoryPerson {
    DirectoryPerson {
        id: "3a1f4e2d-0000-4000-8000-0000000a1a11".parse().unwrap(),
        display_name: "Miriam Graham".into(),
        mail: Some("miriam@contoso.example".into()),
        user_principal_name: Some("miriam@contoso.example".into()),
    }
}

#[tokio::test]
async fn a_rate_limited_lookup_is_the_typed_rate_limit_so_the_outbox_waits() {
    let sandbox = spawn_sandbox().await;
    sandbox
        .add_fault(json!({
            "service": "slack", "path": "/api/users.lookupByEmail",
            "status": 429, "retryAfter": 45, "count": 1,
        }))
        .await;
    let port = SlackPort::new(bot_client(&sandbox).await);
    match port.find_person(&miriam()).await {
        Err(ChatError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(45));
        }
        other => panic!("expected rate limited, got {other:?}"),
    }
    // Once the limit passes, she is found, as the bot files Slack people.
    let found = port.find_person(&miriam()).await.unwrap();
    let slack = crate::slack_support::slack_of(&sandbox).await;
    assert_eq!(found.platform, "slack");
    assert_eq!(found.workspace, slack["teamId"].as_str().unwrap());
    assert_eq!(
        found.user,
        slack["users"]["miriam"]["userId"].as_str().unwrap()
    );
}
