//! The seeded story end to end through the emulated Slack: Alex runs
//! `/request`, signs in, Miriam and Bianca approve through the modal (Graph
//! records each decision as them), Alex activates with an MFA step-up, and
//! the security channel shows the alert. Every message ends in its final
//! state: no live buttons remain on decided cards.

use serde_json::Value;

use crate::helpers::group_id;
use crate::slack_app_support::{SlackApp, buttons, shown, spawn_slack_app};

/// `key` approves the live card in their DM through the modal.
async fn approve_through_modal(app: &SlackApp, key: &str, justification: &str) {
    let card = app.live_card(key).await;
    let ts = card["ts"].as_str().unwrap();
    let click = app.click(key, ts, "approve").await;
    assert_eq!(click.status(), 200);
    let views = app.views(key).await;
    assert_eq!(views.len(), 1, "the decision modal opened: {views:?}");
    assert_eq!(views[0]["callback_id"], "stagegate_decision");
    let answer = app.submit(key, justification, false).await;
    assert_eq!(answer["responseAction"], "clear", "{answer}");
    assert!(app.views(key).await.is_empty(), "the modal closed");
}

fn request_of(app: &SlackApp, persona: &str) -> String {
    let target = app.sandbox.persona_id(persona);
    let world = app.sandbox.state.world();
    let mine: Vec<_> = world
        .requests
        .values()
        .filter(|r| r.target_id == target)
        .collect();
    assert_eq!(mine.len(), 1, "exactly one request");
    mine[0].id.clone()
}

fn no_live_buttons(messages: &[Value]) -> bool {
    messages.iter().all(|m| {
        !buttons(m)
            .iter()
            .any(|(a, _)| a == "approve" || a == "deny")
    })
}

#[tokio::test]
async fn seeded_story_through_slack() {
    story(&spawn_slack_app().await).await;
}

/// The whole story on `app` (also run by the secret-leak test).
pub async fn story(app: &SlackApp) {
    let sandbox = &app.sandbox;
    // Approvers link their Microsoft accounts first, so cards can reach them.
    app.link("miriam").await;
    app.link("bianca").await;

    let answer = app
        .command(
            "alex",
            "/request",
            "global-admin TICKET-123 rotate the break-glass certificate",
        )
        .await;
    assert_eq!(answer["ack"]["status"], 200, "{answer}");
    let link = app.sign_in_link("alex").await;
    app.sign_in(&link, "alex").await;
    let (alex, miriam, bianca) = (
        sandbox.persona_id("alex"),
        sandbox.persona_id("miriam"),
        sandbox.persona_id("bianca"),
    );
    crate::helpers::eventually(|| async {
        app.settle().await;
        let world = app.sandbox.state.world();
        world
            .requests
            .values()
            .any(|r| r.target_id == alex)
            .then_some(())
    })
    .await;
    let request = request_of(app, "alex");
    app.wait_dm("alex", |m| shown(m).contains(&request)).await;

    // Stage 1: Miriam's card, approved through the modal.
    let card = app.live_card("miriam").await;
    let text = shown(&card);
    for needle in [
        "Alex Wilber",
        "TICKET-123",
        "Global Administrator",
        "1 of 2",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(
        app.dm("bianca")
            .await
            .iter()
            .all(|m| buttons(m).is_empty() || !shown(m).contains("1 of 2"))
    );
    approve_through_modal(app, "miriam", "Known incident TICKET-123").await;
    crate::helpers::eventually(|| async {
        let world = app.sandbox.state.world();
        let stage = &world.requests[&request].stages[0];
        (stage.review_result == "Approved").then_some(())
    })
    .await;
    {
        let world = sandbox.state.world();
        let stage = &world.requests[&request].stages[0];
        assert_eq!(
            stage.reviewed_by.as_deref(),
            Some(miriam.as_str()),
            "decided as Miriam"
        );
        assert_eq!(stage.justification, "Known incident TICKET-123");
    }

    // Stage 2: Bianca's card shows stage 1's decision.
    let card = app.live_card("bianca").await;
    let text = shown(&card);
    assert!(text.contains("2 of 2"), "{text}");
    assert!(
        text.contains("Stage 1: Approved by Miriam Graham"),
        "{text}"
    );
    approve_through_modal(app, "bianca", "Break-glass rotation approved").await;
    crate::helpers::eventually(|| async {
        app.settle().await;
        (app.sandbox.state.world().requests[&request].state == "delivered").then_some(())
    })
    .await;
    assert_eq!(
        sandbox.state.world().requests[&request].stages[1]
            .reviewed_by
            .as_deref(),
        Some(bianca.as_str())
    );

    // Alex activates for the policy maximum: MFA step-up, then active.
    let prompt = app
        .wait_dm("alex", |m| {
            buttons(m).iter().any(|(a, _)| a == "activate_PT4H")
        })
        .await;
    let click = app
        .click("alex", prompt["ts"].as_str().unwrap(), "activate_PT4H")
        .await;
    assert_eq!(click.status(), 200);
    let group = group_id(sandbox, "grp-elig-globaladmin");
    let link = app.sign_in_link("alex").await;
    assert!(!sandbox.state.world().groups[&group].members.contains(&alex));
    app.sign_in(&link, "alex").await;
    crate::helpers::eventually(|| async {
        app.settle().await;
        sandbox.state.world().groups[&group]
            .members
            .contains(&alex)
            .then_some(())
    })
    .await;
    app.wait_dm("alex", |m| shown(m).contains("Activated until"))
        .await;

    // The security channel names the request, both approvers and the ticket.
    let alert = crate::helpers::eventually(|| async {
        app.settle().await;
        app.security()
            .await
            .into_iter()
            .map(|m| shown(&m))
            .find(|t| t.contains("activated"))
    })
    .await;
    for needle in [
        request.as_str(),
        "Miriam Graham",
        "Bianca Pisani",
        "TICKET-123",
    ] {
        assert!(alert.contains(needle), "{needle} missing from {alert}");
    }
    // Every message each persona holds is in its final state.
    for key in ["miriam", "bianca"] {
        let dm = app.dm(key).await;
        assert!(no_live_buttons(&dm), "{key} still has a live card: {dm:?}");
        assert!(
            dm.iter().any(|m| shown(m).contains("Outcome")),
            "{key}'s card shows the outcome"
        );
    }
    let alex_dm = app.dm("alex").await;
    assert!(
        alex_dm
            .iter()
            .all(|m| !buttons(m).iter().any(|(a, _)| a.starts_with("activate_"))),
        "the activation prompt shows its final state"
    );
}
