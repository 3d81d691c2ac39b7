//! The seeded story end to end, through chat: Alex requests global-admin,
//! signs in (the request then submits itself), Miriam and Bianca approve in
//! chat (recorded in Graph *as them*), Alex activates with an MFA step-up,
//! and the security channel names the request, both approvers and the ticket.

use stagegate::chat::port::{CardAction, Message};

use crate::engine_support::{decided_cards, live_cards, sign_in_url, spawn_engine_app, texts};
use crate::helpers::group_id;

#[tokio::test]
async fn request_two_approvals_and_activation_with_mfa_step_up() {
    let app = spawn_engine_app().await;
    let sandbox = &app.sandbox;
    let (alex, miriam, bianca) = (
        sandbox.persona_id("alex"),
        sandbox.persona_id("miriam"),
        sandbox.persona_id("bianca"),
    );

    // Unlinked: a sign-in prompt; signing in submits the request by itself.
    let reply = app
        .say(
            "alex",
            "request global-admin TICKET-123 rotate the break-glass certificate",
        )
        .await;
    app.sign_in(&sign_in_url(&reply), "alex").await;
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
    assert!(
        texts(&app.inbox("alex"))
            .iter()
            .any(|t| t.contains(&format!("Submitted request {request}"))),
        "{:?}",
        texts(&app.inbox("alex"))
    );

    // Stage 1: a card to Miriam only.
    let cards = live_cards(&app.inbox("miriam"));
    assert_eq!(cards.len(), 1, "{:?}", app.inbox("miriam"));
    let card = &cards[0];
    assert_eq!((card.stage, card.stages), (1, 2));
    assert_eq!(card.ticket.as_deref(), Some("TICKET-123"));
    assert_eq!(card.requester.name, "Alex Wilber");
    assert_eq!(card.role.as_deref(), Some("Global Administrator"));
    assert!(card.justification_required);
    for other in ["bianca", "adele", "megan"] {
        assert!(
            live_cards(&app.inbox(other)).is_empty(),
            "{other} got a card"
        );
    }

    // Miriam approves; not linked yet, so she signs in and it completes.
    let approve = CardAction::Approve {
        request: card.request,
        stage: card.stage_id,
    };
    let reply = app
        .click("miriam", &approve, Some("Known incident TICKET-123"))
        .await;
    app.sign_in(&sign_in_url(&reply), "miriam").await;
    {
        let world = sandbox.state.world();
        let stage = &world.requests[&request].stages[0];
        assert_eq!(stage.review_result, "Approved");
        assert_eq!(
            stage.reviewed_by.as_deref(),
            Some(miriam.as_str()),
            "decided as Miriam"
        );
        assert_eq!(stage.justification, "Known incident TICKET-123");
    }
    let decided = decided_cards(&app.inbox("miriam"));
    assert_eq!(decided.len(), 1);
    assert!(
        decided[0].1.contains("Approved by Miriam Graham"),
        "{}",
        decided[0].1
    );
    assert!(
        live_cards(&app.inbox("miriam")).is_empty(),
        "no stale button"
    );

    // Stage 2: Bianca's card shows stage 1's decision.
    let cards = live_cards(&app.inbox("bianca"));
    assert_eq!(cards.len(), 1, "{:?}", app.inbox("bianca"));
    let card = &cards[0];
    assert_eq!((card.stage, card.stages), (2, 2));
    assert_eq!(card.history.len(), 1);
    assert_eq!(card.history[0].result, "Approved");
    assert_eq!(
        card.history[0].by.as_ref().map(|p| p.name.as_str()),
        Some("Miriam Graham")
    );
    let reply = app.say("bianca", "link").await;
    app.sign_in(&sign_in_url(&reply), "bianca").await;
    let reply = app
        .click(
            "bianca",
            &CardAction::Approve {
                request: card.request,
                stage: card.stage_id,
            },
            Some("Break-glass rotation approved"),
        )
        .await;
    assert!(reply.text().contains("Recorded"), "{reply:?}");
    {
        let world = sandbox.state.world();
        let r = &world.requests[&request];
        assert_eq!(r.state, "delivered");
        assert_eq!(r.stages[1].reviewed_by.as_deref(), Some(bianca.as_str()));
    }

    // Delivered: Alex is prompted to activate, up to the policy's PT4H.
    let prompt = app
        .inbox("alex")
        .into_iter()
        .find_map(|m| match m {
            Message::ActivationPrompt {
                choices,
                default,
                mfa_required,
                ..
            } => Some((choices, default, mfa_required)),
            _ => None,
        })
        .expect("activation prompt");
    assert_eq!(prompt.0.last().map(String::as_str), Some("PT4H"));
    assert_eq!(prompt.1, "PT4H");
    assert!(prompt.2, "the policy requires MFA");

    // Activation needs MFA: a step-up link; after it, activation completes.
    let activate = CardAction::Activate {
        request: card.request,
        duration: "PT4H".into(),
    };
    let reply = app.click("alex", &activate, None).await;
    let group = group_id(sandbox, "grp-elig-globaladmin");
    assert!(!sandbox.state.world().groups[&group].members.contains(&alex));
    app.sign_in(&sign_in_url(&reply), "alex").await;
    assert!(
        sandbox.state.world().groups[&group].members.contains(&alex),
        "membership visible"
    );
    let inbox = app.inbox("alex");
    assert!(
        inbox.iter().any(|m| matches!(
            m,
            Message::ActivationResult {
                active_until: Some(_),
                ..
            }
        )),
        "{:?}",
        texts(&inbox)
    );
    assert!(
        inbox.iter().any(|m| matches!(m, Message::ActivationClosed { text, .. } if text.starts_with("Activated until"))),
        "the prompt shows its final state: {:?}",
        texts(&inbox)
    );

    // The security channel names the request, both approvers and the ticket.
    let alert = texts(&app.security())
        .into_iter()
        .find(|t| t.contains("activated"))
        .expect("activation alert");
    for needle in [
        request.as_str(),
        "Miriam Graham",
        "Bianca Pisani",
        "TICKET-123",
    ] {
        assert!(alert.contains(needle), "{needle} missing from {alert}");
    }
    // Every card reached its final state.
    for key in ["miriam", "bianca"] {
        assert!(
            live_cards(&app.inbox(key)).is_empty(),
            "{key} still has a live card"
        );
        assert_eq!(decided_cards(&app.inbox(key)).len(), 1);
    }
}
