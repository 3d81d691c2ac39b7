//! Activation beyond the seeded story: an authentication-context step-up
//! (PIM's `&claims=` answer), the expiry warning with its extend action,
//! and memberships no activation through the bot explains.

use stagegate::chat::port::{CardAction, Message};
use stagegate::engine::intake::IntakeSink;
use stagegate::store::ActivationState;

use crate::engine_support::{EngineApp, sign_in_url, spawn_engine_app, texts};
use crate::helpers::group_id;

/// A delivered request of `alias` by Alex, decided outside chat.
async fn delivered(
    app: &EngineApp,
    alias: &str,
    approvers: &[&str],
) -> stagegate_domain::ids::RequestId {
    let id = app
        .request(
            "alex",
            &format!("request {alias} INC-77 delegated admin for the migration"),
        )
        .await;
    for approver in approvers {
        let (status, body) = app
            .sandbox
            .decide(approver, &id.to_string(), "Approve", "ok")
            .await;
        assert_eq!(status, 204, "{approver}: {body}");
    }
    app.reconcile(&id).await;
    assert_eq!(
        app.sandbox.state.world().requests[&id.to_string()].state,
        "delivered"
    );
    id
}

#[tokio::test]
async fn an_authentication_context_step_up_completes_the_activation() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let id = delivered(&app, "priv-role-admin", &["miriam", "lee", "megan"]).await;
    let choices = app
        .inbox("alex")
        .into_iter()
        .find_map(|m| match m {
            Message::ActivationPrompt { choices, .. } => Some(choices),
            _ => None,
        })
        .expect("prompt");
    assert_eq!(choices, ["PT1H", "PT2H"], "up to the group policy's PT2H");

    let activate = CardAction::Activate {
        request: id,
        duration: "PT3H".into(),
    };
    let reply = app.click("alex", &activate, None).await;
    assert!(reply.text().contains("at most 2 h"), "{reply:?}");

    let activate = CardAction::Activate {
        request: id,
        duration: "PT2H".into(),
    };
    let reply = app.click("alex", &activate, None).await;
    let url = sign_in_url(&reply);
    app.sign_in(&url, "alex").await;
    let group = group_id(&app.sandbox, "grp-elig-privroleadmin");
    let alex = app.sandbox.persona_id("alex");
    assert!(
        app.sandbox.state.world().groups[&group]
            .members
            .contains(&alex)
    );
    let alert = texts(&app.security())
        .into_iter()
        .find(|t| t.contains("activated"))
        .expect("activation alert");
    for needle in [
        "Miriam Graham",
        "Lee Gu",
        "Megan Bowen",
        "INC-77",
        &id.to_string(),
    ] {
        assert!(alert.contains(needle), "{needle}: {alert}");
    }
    // The activation carried the ticket PIM's ticketing rule demands.
    let world = app.sandbox.state.world();
    let request = world
        .pim
        .requests
        .values()
        .find(|r| r.principal_id == alex)
        .unwrap();
    assert_eq!(request.ticket_number.as_deref(), Some("INC-77"));
}

#[tokio::test]
async fn the_requester_is_warned_before_expiry_and_can_extend() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let id = delivered(&app, "global-admin", &["miriam", "bianca"]).await;
    app.sandbox.advance_clock("PT7H1M").await;
    app.reconcile(&id).await;
    let warning = app
        .inbox("alex")
        .into_iter()
        .find(|m| matches!(m, Message::ExpiryWarning { .. }))
        .expect("expiry warning");
    assert_eq!(warning.actions(), [CardAction::Extend { request: id }]);
    let reply = app
        .click("alex", &CardAction::Extend { request: id }, None)
        .await;
    assert!(reply.text().starts_with("Extension requested"), "{reply:?}");
    let world = app.sandbox.state.world();
    let update = world
        .requests
        .values()
        .find(|r| r.request_type == "userUpdate")
        .expect("a userUpdate request");
    assert_eq!(update.state, "pendingApproval");
}

#[tokio::test]
async fn memberships_not_made_through_the_bot_are_reported() {
    let app = spawn_engine_app().await;
    let group = group_id(&app.sandbox, "grp-elig-globaladmin")
        .parse()
        .unwrap();
    let diego = app.sandbox.persona_id("diego").parse().unwrap();
    app.engine.membership_changed(group, diego, true).await;
    app.engine.membership_changed(group, diego, false).await;
    let other = group_id(&app.sandbox, "it-operations").parse().unwrap();
    app.engine.membership_changed(other, diego, true).await;
    app.settle().await;
    let alerts = texts(&app.security());
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains("not made through stagegate") && alerts[0].contains("Diego"),
        "{alerts:?}"
    );
}

/// The bot recorded Alex's activation and died before PIM's answer; PIM
/// never got the call.
async fn interrupted_activation(app: &EngineApp, since: chrono::DateTime<chrono::Utc>) -> String {
    let id = delivered(app, "helpdesk-admin", &["lee"]).await;
    let group = group_id(&app.sandbox, "grp-elig-helpdeskadmin");
    app.engine
        .store()
        .upsert_activation(
            &id,
            &app.sandbox.persona_id("alex").parse().unwrap(),
            &group.parse().unwrap(),
            "PT2H",
            ActivationState::Requesting,
            None,
            None,
            since,
        )
        .await
        .unwrap();
    group
}

#[tokio::test]
async fn an_activation_a_restart_interrupted_is_made_after_it() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let group = interrupted_activation(&app, chrono::Utc::now()).await;
    let alex = app.sandbox.persona_id("alex");
    assert!(
        !app.sandbox.state.world().groups[&group]
            .members
            .contains(&alex)
    );

    assert_eq!(app.engine.recover_activations().await.unwrap(), 1);
    app.settle().await;
    assert!(
        app.sandbox.state.world().groups[&group]
            .members
            .contains(&alex),
        "activated as Alex"
    );
    assert!(
        texts(&app.inbox("alex"))
            .iter()
            .any(|t| t.contains("Active until")),
        "{:?}",
        texts(&app.inbox("alex"))
    );
    let alerts = texts(&app.security());
    assert_eq!(
        alerts
            .iter()
            .filter(|t| t.contains("activated through stagegate"))
            .count(),
        1,
        "{alerts:?}"
    );
    // Done once: nothing is left to recover.
    assert_eq!(app.engine.recover_activations().await.unwrap(), 0);
}

#[tokio::test]
async fn an_activation_interrupted_long_ago_is_offered_again_not_made() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let group = interrupted_activation(&app, long_ago).await;
    let prompts = |app: &EngineApp| {
        app.inbox("alex")
            .iter()
            .filter(|m| matches!(m, Message::ActivationPrompt { .. }))
            .count()
    };
    let before = prompts(&app);

    app.engine.recover_activations().await.unwrap();
    app.settle().await;
    let alex = app.sandbox.persona_id("alex");
    assert!(
        !app.sandbox.state.world().groups[&group]
            .members
            .contains(&alex)
    );
    assert!(
        texts(&app.inbox("alex"))
            .iter()
            .any(|t| t.contains("was interrupted")),
        "{:?}",
        texts(&app.inbox("alex"))
    );
    assert_eq!(prompts(&app), before + 1, "a fresh prompt to activate with");
    assert_eq!(app.engine.recover_activations().await.unwrap(), 0);
}
