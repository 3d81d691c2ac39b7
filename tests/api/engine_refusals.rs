//! Clicks that must change nothing in Graph: a non-approver's, the
//! requester's own, one on a retired card, a double click, and a decision
//! without the justification the policy requires.

use crate::engine_support::{EngineApp, spawn_engine_app};

const GLOBAL: &str = "request global-admin INC-42 rotate the break-glass certificate";

fn stage_review(app: &EngineApp, id: &str, index: usize) -> (String, Option<String>) {
    let world = app.sandbox.state.world();
    let stage = &world.requests[id].stages[index];
    (stage.review_result.clone(), stage.reviewed_by.clone())
}

#[tokio::test]
async fn non_approvers_and_the_requester_are_refused_and_nothing_changes() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("lee").await;
    let id = app.request("alex", GLOBAL).await;
    let card = app.card("miriam", &id, 1).expect("card");

    let reply = app
        .click("lee", &EngineApp::approve(&card), Some("I'd like to help"))
        .await;
    assert_eq!(reply.text(), "You are not an approver of this stage.");
    let reply = app
        .click("alex", &EngineApp::approve(&card), Some("approving myself"))
        .await;
    assert_eq!(reply.text(), "You can't decide on your own request.");

    assert_eq!(
        stage_review(&app, &id.to_string(), 0),
        ("NotReviewed".into(), None)
    );
    assert_eq!(app.engine.store().count_decisions(&id).await.unwrap(), 0);
    assert!(
        app.card("miriam", &id, 1).is_some(),
        "Miriam's card is still live"
    );
}

#[tokio::test]
async fn a_blank_justification_is_refused_when_the_policy_requires_one() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    let id = app.request("alex", GLOBAL).await;
    let card = app.card("miriam", &id, 1).expect("card");
    for blank in [None, Some("   ")] {
        let reply = app.click("miriam", &EngineApp::approve(&card), blank).await;
        assert!(reply.text().contains("needs a justification"), "{reply:?}");
    }
    assert_eq!(stage_review(&app, &id.to_string(), 0).0, "NotReviewed");
}

#[tokio::test]
async fn a_retired_card_and_a_double_click_change_nothing() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    let id = app.request("alex", GLOBAL).await;
    let card = app.card("miriam", &id, 1).expect("card");
    let approve = EngineApp::approve(&card);
    let deny = EngineApp::deny(&card);

    // Two presses at once: one is relayed, the other is refused.
    let miriam_chat = app.persona("miriam");
    let (a, b) = tokio::join!(
        app.chat.click(&miriam_chat, &approve, Some("first")),
        app.chat.click(&miriam_chat, &approve, Some("second")),
    );
    app.settle().await;
    let replies = [a.text(), b.text()];
    assert_eq!(
        replies.iter().filter(|r| r.starts_with("Recorded")).count(),
        1,
        "{replies:?}"
    );
    assert_eq!(app.engine.store().count_decisions(&id).await.unwrap(), 1);
    let miriam = app.sandbox.persona_id("miriam");
    assert_eq!(
        stage_review(&app, &id.to_string(), 0),
        ("Approved".into(), Some(miriam.clone()))
    );

    // The card is retired; pressing its Deny now is refused.
    assert!(app.card("miriam", &id, 1).is_none());
    let reply = app.click("miriam", &deny, Some("changed my mind")).await;
    assert_eq!(
        reply.text(),
        "This stage was already approved by Miriam Graham."
    );
    assert_eq!(
        stage_review(&app, &id.to_string(), 0),
        ("Approved".into(), Some(miriam))
    );
    let justification = app.sandbox.state.world().requests[&id.to_string()].stages[0]
        .justification
        .clone();
    assert!(["first", "second"].contains(&justification.as_str()));
}
