//! Graph change notifications and custom-extension callouts duplicated and
//! reordered by `/sim/faults` (as Graph's redelivery and the relay's retries
//! may do): the request still ends right, every card reaches its final state
//! once, no decision is relayed twice and no alert is raised twice.

use serde_json::{Value, json};
use stagegate::chat::port::{CardAction, Message};
use stagegate_domain::ids::RequestId;

use crate::engine_support::{
    EngineApp, PERSONAS, decided_cards, live_cards, sign_in_url, spawn_engine_app, texts,
};
use crate::helpers::{eventually, group_id};

/// Adds a `/sim/faults` rule.
async fn fault(app: &EngineApp, rule: Value) {
    let response = app
        .sandbox
        .http
        .post(app.sandbox.url("/sim/faults"))
        .json(&rule)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, 201, "{rule}: {}", response.text().await.unwrap());
}

/// Every notification and callout so far, once none is still to be sent
/// (but for those held back, when `held_too` is false).
async fn sent(app: &EngineApp, held_too: bool) -> Vec<Value> {
    eventually(|| async {
        let mut all = app.sandbox.notifications(None).await;
        all.extend(app.sandbox.callouts().await);
        all.iter()
            .all(|d| {
                d["status"] == "delivered"
                    || d["status"] == "failed"
                    || (!held_too && d["injected"]["released"] == false)
            })
            .then_some(all)
    })
    .await
}

async fn all_sent(app: &EngineApp) -> Vec<Value> {
    sent(app, true).await
}

fn injected<'a>(deliveries: &'a [Value], fault: &str) -> Vec<&'a Value> {
    deliveries
        .iter()
        .filter(|d| d["injected"]["fault"] == fault)
        .collect()
}

/// Alex's request of the global-admin package, approved by Miriam then
/// Bianca on their cards, then activated by Alex with the MFA step.
async fn approve_and_activate(app: &EngineApp) -> RequestId {
    for key in ["alex", "miriam", "bianca"] {
        app.link(key).await;
    }
    let id = app
        .request("alex", "request global-admin TICKET-9 storm drill")
        .await;
    sent(app, false).await;
    app.settle().await;
    let card = app.card("miriam", &id, 1).expect("stage 1 card");
    app.click("miriam", &EngineApp::approve(&card), Some("drill"))
        .await;
    let card = app.card("bianca", &id, 2).expect("stage 2 card");
    app.click("bianca", &EngineApp::approve(&card), Some("drill ok"))
        .await;
    sent(app, false).await;
    app.settle().await;
    let activate = CardAction::Activate {
        request: id,
        duration: "PT4H".into(),
    };
    let reply = app.click("alex", &activate, None).await;
    app.sign_in(&sign_in_url(&reply), "alex").await;
    id
}

/// The request is delivered, Alex is a member, each approver holds exactly
/// one card for their stage and it is decided, nobody holds a live card,
/// each decision reached Graph once, and the security channel has exactly
/// one activation alert and no unexplained-membership alert.
fn assert_settled_once(app: &EngineApp, id: &RequestId) {
    let group = group_id(&app.sandbox, "grp-elig-globaladmin");
    let alex = app.sandbox.persona_id("alex");
    let world = app.sandbox.state.world();
    assert_eq!(world.requests[&id.to_string()].state, "delivered");
    assert!(world.groups[&group].members.contains(&alex));
    drop(world);
    for key in PERSONAS {
        assert!(
            live_cards(&app.inbox(key)).is_empty(),
            "{key} holds a live card"
        );
    }
    for (key, stage) in [("miriam", 1), ("bianca", 2)] {
        let decided: Vec<_> = decided_cards(&app.inbox(key))
            .into_iter()
            .filter(|(c, _)| c.request == *id && c.stage == stage)
            .collect();
        assert_eq!(decided.len(), 1, "{key}: {decided:?}");
    }
    let decisions = app.sandbox.state.chaos.decisions();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    for tally in decisions.values() {
        assert_eq!((tally.applied, tally.repeated), (1, 0), "{decisions:?}");
    }
    let alerts = texts(&app.security());
    let activated = alerts.iter().filter(|t| t.contains("activated")).count();
    assert_eq!(activated, 1, "{alerts:?}");
    assert!(
        !alerts.iter().any(|t| t.contains("not made through")),
        "{alerts:?}"
    );
}

#[tokio::test]
async fn every_notification_and_callout_delivered_twice_changes_nothing() {
    let app = spawn_engine_app().await;
    for service in ["callouts", "notifications"] {
        fault(
            &app,
            json!({ "service": service, "path": "/", "duplicate": true, "delayMs": 0 }),
        )
        .await;
    }
    let id = approve_and_activate(&app).await;
    let sent = all_sent(&app).await;
    app.settle().await;

    let twins = injected(&sent, "duplicate");
    let callouts = twins.iter().filter(|d| d["kind"] == "callout").count();
    let notifications = twins
        .iter()
        .filter(|d| d["kind"] == "changeNotification")
        .count();
    assert!(callouts >= 3, "created, approved, granted: {sent:#?}");
    assert!(notifications >= 1, "Alex's membership: {sent:#?}");
    for twin in &twins {
        let original = sent
            .iter()
            .find(|d| d["id"] == twin["injected"]["of"])
            .unwrap();
        assert_eq!(twin["body"], original["body"], "the same notification");
    }
    assert_settled_once(&app, &id);
}

#[tokio::test]
async fn a_callout_arriving_after_its_stage_was_decided_changes_nothing() {
    let app = spawn_engine_app().await;
    // `assignmentRequestCreated` is held until a later callout (approved)
    // has been delivered: it lands when both stages are already decided.
    fault(
        &app,
        json!({ "service": "callouts", "path": "/assignmentRequestCreated",
                "reorder": true, "delayMs": 55_000 }),
    )
    .await;
    let id = approve_and_activate(&app).await;
    let sent = all_sent(&app).await;
    app.settle().await;

    let held = injected(&sent, "heldBack");
    assert_eq!(held.len(), 1, "{sent:#?}");
    assert_eq!(held[0]["stage"], "assignmentRequestCreated");
    assert_eq!(
        held[0]["injected"]["released"], true,
        "went behind a later one"
    );
    assert_settled_once(&app, &id);
}

fn unexplained(app: &EngineApp) -> Vec<Message> {
    app.security()
        .into_iter()
        .filter(|m| m.text().contains("not made through stagegate"))
        .collect()
}

/// Waits until the bot's subscription on `group`'s members exists.
async fn subscribed(app: &EngineApp, group: &str) {
    let resource = format!("groups/{group}/members");
    eventually(|| async {
        let n = app.sandbox.state.notify.lock();
        n.subscriptions
            .values()
            .any(|s| s.resource.trim_start_matches('/') == resource)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_membership_notification_redelivered_seconds_later_alerts_once() {
    let app = spawn_engine_app().await;
    let group = group_id(&app.sandbox, "grp-elig-globaladmin");
    subscribed(&app, &group).await;
    // Graph resends what it got no 2xx for within 3 s: the copy comes later.
    fault(
        &app,
        json!({ "service": "notifications", "path": "/groups/*/members",
                "duplicate": true, "delayMs": 5_000 }),
    )
    .await;
    let johanna = app.sandbox.persona_id("johanna");
    app.sandbox.state.world().add_member(&group, &johanna);
    eventually(|| async {
        app.settle().await;
        (!unexplained(&app).is_empty()).then_some(())
    })
    .await;

    app.sandbox.advance_clock("PT6S").await;
    let sent = all_sent(&app).await;
    assert_eq!(injected(&sent, "duplicate").len(), 1, "{sent:#?}");
    app.settle().await;
    assert_eq!(unexplained(&app).len(), 1, "{:?}", texts(&app.security()));
}

#[tokio::test]
async fn a_join_notified_after_the_leave_still_alerts_once() {
    let app = spawn_engine_app().await;
    let group = group_id(&app.sandbox, "grp-elig-globaladmin");
    subscribed(&app, &group).await;
    fault(
        &app,
        json!({ "service": "notifications", "path": "/", "reorder": true, "delayMs": 55_000 }),
    )
    .await;
    let johanna = app.sandbox.persona_id("johanna");
    app.sandbox.state.world().add_member(&group, &johanna);
    // The join is held back; the leave releases it and goes first.
    eventually(|| async {
        let held = injected(&app.sandbox.notifications(None).await, "heldBack").len();
        (held == 1).then_some(())
    })
    .await;
    app.sandbox.state.world().remove_member(&group, &johanna);
    let sent = all_sent(&app).await;
    let held = injected(&sent, "heldBack");
    assert_eq!(held[0]["injected"]["released"], true, "{sent:#?}");
    eventually(|| async {
        app.settle().await;
        (!unexplained(&app).is_empty()).then_some(())
    })
    .await;
    assert_eq!(unexplained(&app).len(), 1, "{:?}", texts(&app.security()));
}

#[tokio::test]
async fn a_notification_id_seen_again_hours_later_is_the_same_join() {
    use stagegate::engine::intake::IntakeSink;
    // Past intake's in-memory dedupe (a restart, or Graph's 4-hour
    // redelivery window): the engine itself knows the change by its id.
    let app = spawn_engine_app().await;
    let group = group_id(&app.sandbox, "grp-elig-globaladmin")
        .parse()
        .unwrap();
    let johanna = app.sandbox.persona_id("johanna").parse().unwrap();
    let id = Some("sub-1/notification-1".to_owned());
    app.engine
        .membership_notified(group, johanna, true, id.clone())
        .await;
    app.sandbox.advance_clock("PT2H").await;
    app.engine
        .membership_notified(group, johanna, true, id)
        .await;
    app.settle().await;
    assert_eq!(unexplained(&app).len(), 1, "{:?}", texts(&app.security()));
    // A different notification is a different join.
    app.engine
        .membership_notified(group, johanna, true, Some("sub-1/notification-2".into()))
        .await;
    app.settle().await;
    assert_eq!(unexplained(&app).len(), 2, "{:?}", texts(&app.security()));
}

#[tokio::test]
async fn a_click_on_a_stage_decided_unheard_brings_the_cards_up_to_date() {
    let app = spawn_engine_app().await;
    // Nothing Graph sends reaches the bot for a while.
    for service in ["callouts", "notifications"] {
        fault(
            &app,
            json!({ "service": service, "path": "/", "reorder": true, "delayMs": 55_000 }),
        )
        .await;
    }
    app.link("alex").await;
    app.link("miriam").await;
    let id = app
        .request(
            "alex",
            "request global-admin INC-42 rotate the break-glass certificate",
        )
        .await;
    let card = app.card("miriam", &id, 1).expect("Miriam's card");
    // Miriam decides in My Access; the bot does not hear of it.
    let (status, _) = app
        .sandbox
        .decide("miriam", &id.to_string(), "Approve", "in My Access")
        .await;
    assert_eq!(status, 204);
    // Then she clicks the card in chat: told, and the request caught up.
    let reply = app
        .click("miriam", &EngineApp::approve(&card), Some("ok"))
        .await;
    assert!(reply.text().contains("already approved"), "{reply:?}");
    app.settle().await;
    assert!(live_cards(&app.inbox("miriam")).is_empty(), "retired");
    assert_eq!(app.card_holders(&id, 2), ["bianca"]);
}
