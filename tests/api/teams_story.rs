//! The seeded story through the emulated Teams: Alex asks in his chat with
//! the bot, signs in, Miriam and Bianca approve on their cards (recorded in
//! Graph as them), Alex activates from the prompt with an MFA step-up, and
//! the security channel gets the alert. Every card ends in its final state.

use serde_json::json;

use crate::helpers::group_id;
use crate::teams_adapter_support::{TeamsApp, card_text, sign_in_link, spawn_teams_app, verbs};

#[tokio::test]
async fn request_two_approvals_and_activation_through_teams() {
    story(&spawn_teams_app().await).await;
}

/// The whole story on `app` (also run by the secret-leak test).
pub async fn story(app: &TeamsApp) {
    let sandbox = &app.sandbox;
    for key in ["alex", "miriam", "bianca", "adele"] {
        app.install(key).await;
    }
    app.install_in_team().await;
    let (alex, miriam, bianca) = (
        sandbox.persona_id("alex"),
        sandbox.persona_id("miriam"),
        sandbox.persona_id("bianca"),
    );

    // Alex asks; not linked yet: a sign-in card; signing in submits.
    app.say(
        "alex",
        "request global-admin TICKET-123 rotate the break-glass certificate",
    )
    .await;
    let link = sign_in_link(&app.cards("alex").await);
    app.sign_in(&link, "alex").await;
    let request = {
        let world = sandbox.state.world();
        let mine: Vec<_> = world
            .requests
            .values()
            .filter(|r| r.target_id == alex)
            .collect();
        assert_eq!(mine.len(), 1, "exactly one request submitted");
        mine[0].id.clone()
    };

    // Stage 1: Miriam's chat shows the card with Approve / Deny.
    let cards = app.cards("miriam").await;
    let (card_id, card) = cards
        .iter()
        .find(|(_, c)| verbs(c) == ["approve", "deny"])
        .cloned()
        .unwrap_or_else(|| panic!("no approval card for Miriam: {cards:?}"));
    let text = card_text(&card);
    for needle in [
        "Alex Wilber",
        "TICKET-123",
        "Global Administrator",
        "1 of 2",
        "rotate the break-glass certificate",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
    assert!(
        app.cards("bianca")
            .await
            .iter()
            .all(|(_, c)| verbs(c).is_empty()),
        "Bianca has no card yet"
    );

    // Miriam approves (the answer is at once a "recording" card); she is
    // not linked, so a sign-in card arrives and signing in completes it.
    let clicked = app
        .click(
            "miriam",
            &card_id,
            "approve",
            json!({ "justification": "Known incident TICKET-123" }),
        )
        .await;
    assert_eq!(clicked["bot"]["status"], 200, "{clicked}");
    assert_eq!(
        clicked["bot"]["body"]["type"],
        "application/vnd.microsoft.card.adaptive"
    );
    let link = sign_in_link(&app.cards("miriam").await);
    app.sign_in(&link, "miriam").await;
    {
        let world = sandbox.state.world();
        let stage = &world.requests[&request].stages[0];
        assert_eq!(stage.review_result, "Approved");
        assert_eq!(stage.reviewed_by.as_deref(), Some(miriam.as_str()));
        assert_eq!(stage.justification, "Known incident TICKET-123");
    }

    // Stage 2: Bianca's card shows stage 1's decision.
    let cards = app.cards("bianca").await;
    let (card_id, card) = cards
        .iter()
        .find(|(_, c)| verbs(c) == ["approve", "deny"])
        .cloned()
        .unwrap_or_else(|| panic!("no approval card for Bianca: {cards:?}"));
    let text = card_text(&card);
    assert!(text.contains("2 of 2"), "{text}");
    assert!(text.contains("Approved by Miriam Graham"), "{text}");
    app.say("bianca", "link").await;
    let link = sign_in_link(&app.cards("bianca").await);
    app.sign_in(&link, "bianca").await;
    app.click(
        "bianca",
        &card_id,
        "approve",
        json!({ "justification": "Break-glass rotation approved" }),
    )
    .await;
    {
        let world = sandbox.state.world();
        let r = &world.requests[&request];
        assert_eq!(r.state, "delivered");
        assert_eq!(r.stages[1].reviewed_by.as_deref(), Some(bianca.as_str()));
    }

    // Alex activates from the prompt; MFA step-up, then the membership.
    let cards = app.cards("alex").await;
    let (prompt_id, prompt) = cards
        .iter()
        .find(|(_, c)| verbs(c) == ["activate"])
        .cloned()
        .unwrap_or_else(|| panic!("no activation prompt: {cards:?}"));
    assert!(card_text(&prompt).contains("PT4H"));
    app.click(
        "alex",
        &prompt_id,
        "activate",
        json!({ "duration": "PT4H" }),
    )
    .await;
    let group = group_id(sandbox, "grp-elig-globaladmin");
    let link = sign_in_link(&app.cards("alex").await);
    app.sign_in(&link, "alex").await;
    assert!(
        sandbox.state.world().groups[&group].members.contains(&alex),
        "Alex is active"
    );

    // The security channel names the request, both approvers, the ticket.
    let alerts = app.alerts().await;
    let alert = alerts
        .iter()
        .map(card_text)
        .find(|t| t.contains("activated"))
        .unwrap_or_else(|| panic!("no activation alert: {alerts:?}"));
    for needle in [
        request.as_str(),
        "Miriam Graham",
        "Bianca Pisani",
        "TICKET-123",
    ] {
        assert!(alert.contains(needle), "{needle} missing from {alert}");
    }

    // Every card everyone sees is in its final state: no live buttons.
    for key in ["alex", "miriam", "bianca"] {
        for (id, card) in app.cards(key).await {
            assert!(
                verbs(&card).is_empty(),
                "{key}'s card {id} still has buttons: {card}"
            );
        }
    }
    let decided = |cards: Vec<(String, serde_json::Value)>| {
        cards
            .iter()
            .filter(|(_, c)| card_text(c).contains("decided"))
            .count()
    };
    assert_eq!(decided(app.cards("miriam").await), 1);
    assert_eq!(decided(app.cards("bianca").await), 1);
}
