//! Approval flows through chat: decisions made outside chat, denial,
//! automatic denial on timeout, escalation, a missing manager's fallback,
//! and a three-stage request.

use crate::engine_support::{EngineApp, decided_cards, spawn_engine_app, texts};

const GLOBAL: &str = "request global-admin INC-42 rotate the break-glass certificate";
const PRIV: &str = "request priv-role-admin INC-43 delegate admin roles for the migration";

#[tokio::test]
async fn a_decision_outside_chat_retires_the_cards_after_one_reconcile() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let id = app.request("alex", GLOBAL).await;
    assert_eq!(app.card_holders(&id, 1), ["miriam"]);

    // Miriam approves in My Access (a direct Graph PATCH as her).
    let (status, body) = app
        .sandbox
        .decide(
            "miriam",
            &id.to_string(),
            "Approve",
            "approved in My Access",
        )
        .await;
    assert_eq!(status, 204, "{body}");
    app.reconcile(&id).await;

    let decided = decided_cards(&app.inbox("miriam"));
    assert_eq!(decided.len(), 1);
    assert!(
        decided[0]
            .1
            .contains("Approved by Miriam Graham (outside chat)"),
        "{}",
        decided[0].1
    );
    assert!(app.card("miriam", &id, 1).is_none());
    assert_eq!(app.card_holders(&id, 2), ["bianca"]);
}

#[tokio::test]
async fn denial_reaches_the_requester_the_cards_and_the_security_channel() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    let id = app.request("alex", GLOBAL).await;
    let card = app.card("miriam", &id, 1).expect("card");
    let reply = app
        .click("miriam", &EngineApp::deny(&card), Some("no change window"))
        .await;
    assert!(reply.text().contains("you denied stage 1"), "{reply:?}");
    assert_eq!(
        app.sandbox.state.world().requests[&id.to_string()].state,
        "denied"
    );

    let decided = decided_cards(&app.inbox("miriam"));
    assert!(
        decided[0].1.contains("Denied by Miriam Graham"),
        "{}",
        decided[0].1
    );
    assert!(
        texts(&app.inbox("alex"))
            .iter()
            .any(|t| t.contains("was denied by Miriam Graham")),
        "{:?}",
        texts(&app.inbox("alex"))
    );
    assert!(
        app.card_holders(&id, 2).is_empty(),
        "no stage 2 after a denial"
    );
    let alerts = texts(&app.security());
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("denied") && a.contains(&id.to_string())),
        "{alerts:?}"
    );
}

#[tokio::test]
async fn nobody_deciding_in_time_denies_automatically() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let id = app.request("alex", GLOBAL).await;
    assert_eq!(app.card_holders(&id, 1), ["miriam"]);
    app.sandbox.advance_clock("P1DT1M").await;
    app.reconcile(&id).await;

    assert!(app.card("miriam", &id, 1).is_none());
    let decided = decided_cards(&app.inbox("miriam"));
    assert!(decided[0].1.starts_with("Timed out"), "{}", decided[0].1);
    assert!(
        texts(&app.inbox("alex"))
            .iter()
            .any(|t| t.contains("nobody decided in time")),
        "{:?}",
        texts(&app.inbox("alex"))
    );
}

#[tokio::test]
async fn a_reminder_comes_before_the_deadline() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let id = app.request("alex", GLOBAL).await;
    // Default lead: 120 minutes before the P1D deadline.
    app.sandbox.advance_clock("PT21H").await;
    app.reconcile(&id).await;
    assert!(
        !texts(&app.inbox("miriam"))
            .iter()
            .any(|t| t.starts_with("Reminder"))
    );
    app.sandbox.advance_clock("PT2H").await;
    app.reconcile(&id).await;
    app.reconcile(&id).await;
    let reminders = texts(&app.inbox("miriam"))
        .into_iter()
        .filter(|t| t.starts_with("Reminder"))
        .count();
    assert_eq!(reminders, 1, "exactly one reminder");
}

#[tokio::test]
async fn stage_two_escalates_to_patti_after_four_hours_and_stage_three_asks_megan() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    let id = app.request("alex", PRIV).await;
    let card = app.card("miriam", &id, 1).expect("stage 1 card");
    assert_eq!((card.stage, card.stages), (1, 3));
    app.click(
        "miriam",
        &EngineApp::approve(&card),
        Some("ok for the migration"),
    )
    .await;

    // The security approvers group, transitively, without disabled Nestor.
    assert_eq!(app.card_holders(&id, 2), ["bianca", "lee", "isaiah"]);
    app.sandbox.advance_clock("PT4H1M").await;
    app.reconcile(&id).await;
    assert_eq!(
        app.card_holders(&id, 2),
        ["bianca", "lee", "isaiah", "patti"]
    );
    assert!(app.card("patti", &id, 2).expect("card").escalated);

    app.link("patti").await;
    let card = app.card("patti", &id, 2).expect("card");
    app.click(
        "patti",
        &EngineApp::approve(&card),
        Some("escalated, approved"),
    )
    .await;
    // Every stage-2 card is retired, stage 3 goes to Alex's second-level manager.
    assert!(app.card_holders(&id, 2).is_empty());
    for key in ["bianca", "lee", "isaiah", "patti"] {
        let decided = decided_cards(&app.inbox(key));
        assert!(
            decided
                .iter()
                .any(|(_, o)| o.contains("Approved by Patti Fernandez")),
            "{key}: {decided:?}"
        );
    }
    assert_eq!(app.card_holders(&id, 3), ["megan"]);
    let card = app.card("megan", &id, 3).expect("card");
    assert_eq!(card.history.len(), 2);
}

#[tokio::test]
async fn a_requester_without_a_manager_goes_to_the_fallback_approver() {
    let app = spawn_engine_app().await;
    app.link("diego").await;
    let id = app
        .request(
            "diego",
            "request global-admin INC-44 need it for the cutover",
        )
        .await;
    assert_eq!(app.card_holders(&id, 1), ["adele"]);
}
