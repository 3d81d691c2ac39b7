//! Delivery guarantees: duplicate and reordered triggers add nothing, a
//! restart mid-outbox finishes the work without duplicates, platform rate
//! limits are absorbed, and an unreachable approver is reported.

use stagegate::engine::intake::{Cause, CustomExtensionStage, IntakeSink};

use crate::engine_support::{
    EngineApp, live_cards, spawn_engine_app, spawn_engine_app_with, texts,
};

const GLOBAL: &str = "request global-admin INC-42 rotate the break-glass certificate";

#[tokio::test]
async fn duplicate_and_reordered_triggers_produce_no_duplicate_effect() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let id = app.request("alex", GLOBAL).await;
    let before = app.chat.post_counts();

    let sink: std::sync::Arc<dyn IntakeSink> = app.engine.clone();
    let causes = [
        Cause::Callout {
            stage: CustomExtensionStage::AssignmentRequestApproved,
        },
        Cause::Poll,
        Cause::Callout {
            stage: CustomExtensionStage::AssignmentRequestCreated,
        },
        Cause::Notification,
    ];
    // Concurrent, in no particular order.
    let handles: Vec<_> = causes
        .into_iter()
        .map(|cause| {
            let sink = sink.clone();
            tokio::spawn(async move { sink.reconcile(id, cause).await })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    sink.reconcile_open().await;
    app.settle().await;
    assert_eq!(app.chat.post_counts(), before, "nothing new was posted");
    assert_eq!(live_cards(&app.inbox("miriam")).len(), 1);
}

#[tokio::test]
async fn a_restart_in_the_middle_of_the_outbox_finishes_without_duplicates() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    // The platform fails the first posts, and a worker "dies" holding jobs.
    app.chat.fail_next(2);
    let reply = app.chat.type_text(&app.persona("alex"), GLOBAL).await;
    assert!(reply.text().starts_with("Submitted request"), "{reply:?}");
    let now = chrono::Utc::now();
    app.engine
        .store()
        .claim_due(now, now + chrono::Duration::milliseconds(300), 100)
        .await
        .unwrap();
    let app = app.restart().await;
    app.settle().await;

    let id = live_cards(&app.inbox("miriam"))
        .first()
        .map(|c| c.request)
        .expect("Miriam's card arrived after the restart");
    assert_eq!(
        live_cards(&app.inbox("miriam")).len(),
        1,
        "exactly one card"
    );
    let submitted = texts(&app.inbox("alex"))
        .into_iter()
        .filter(|t| t.contains("was submitted"))
        .count();
    assert_eq!(submitted, 1, "{:?}", texts(&app.inbox("alex")));

    // The restarted bot carries on: Miriam's decision reaches Bianca once.
    let card = app.card("miriam", &id, 1).expect("card");
    app.click("miriam", &EngineApp::approve(&card), Some("ok"))
        .await;
    app.reconcile(&id).await;
    assert_eq!(app.card_holders(&id, 2), ["bianca"]);
    assert_eq!(live_cards(&app.inbox("bianca")).len(), 1);
}

#[tokio::test]
async fn a_stage_decided_during_an_outage_leaves_no_live_card() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    // The platform is down for a few posts; the stage is decided meanwhile.
    app.chat.fail_next(4);
    let reply = app.chat.type_text(&app.persona("alex"), GLOBAL).await;
    let id: stagegate_domain::ids::RequestId = reply
        .text()
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("request id");
    let (status, _) = app
        .sandbox
        .decide(
            "miriam",
            &id.to_string(),
            "Approve",
            "decided during the outage",
        )
        .await;
    assert_eq!(status, 204);
    app.reconcile(&id).await;
    assert!(
        live_cards(&app.inbox("miriam")).is_empty(),
        "no live button remains"
    );
    assert_eq!(app.card_holders(&id, 2), ["bianca"]);
}

/// The request id in the bot's reply to a request.
fn request_id(reply: &stagegate::chat::port::Message) -> stagegate_domain::ids::RequestId {
    reply
        .text()
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("request id")
}

/// Cards (live or decided) `key` holds for a request's stage.
fn cards_held(app: &EngineApp, key: &str, id: &stagegate_domain::ids::RequestId, k: u8) -> usize {
    use stagegate::chat::port::Message;
    app.inbox(key)
        .iter()
        .filter(|m| match m {
            Message::ApprovalRequest { card } | Message::ApprovalDecided { card, .. } => {
                card.request == *id && card.stage == k
            }
            _ => false,
        })
        .count()
}

#[tokio::test]
async fn a_card_whose_answer_was_lost_is_found_not_posted_again() {
    let app = spawn_engine_app_with(|s| s.engine.outbox_settle_seconds = 0).await;
    app.link("alex").await;
    // Miriam's card lands, but the bot never hears so (killed, or the
    // connection dropped, after the platform took the post).
    app.chat.lose_answer_to(&app.persona("miriam"));
    let reply = app.chat.type_text(&app.persona("alex"), GLOBAL).await;
    let id = request_id(&reply);
    app.settle().await;
    assert_eq!(
        cards_held(&app, "miriam", &id, 1),
        1,
        "one card, not a second"
    );
    // It is the one the bot knows: the stage's end retires it.
    let (status, _) = app
        .sandbox
        .decide("miriam", &id.to_string(), "Approve", "decided in My Access")
        .await;
    assert_eq!(status, 204);
    app.reconcile(&id).await;
    assert!(live_cards(&app.inbox("miriam")).is_empty());
    assert_eq!(app.card_holders(&id, 2), ["bianca"]);
}

#[tokio::test]
async fn a_card_whose_answer_was_lost_is_retired_when_the_stage_ends_first() {
    let app = spawn_engine_app_with(|s| s.engine.outbox_settle_seconds = 2).await;
    app.link("alex").await;
    let miriam = app.dm("miriam");
    app.chat.lose_answer_to(&app.persona("miriam"));
    let reply = app.chat.type_text(&app.persona("alex"), GLOBAL).await;
    let id = request_id(&reply);
    // The card is in Miriam's chat, unrecorded; the stage is decided (in
    // My Access) before the bot looks for it.
    app.chat.posted_to(&miriam).await;
    let (status, _) = app
        .sandbox
        .decide("miriam", &id.to_string(), "Approve", "decided in My Access")
        .await;
    assert_eq!(status, 204);
    app.reconcile(&id).await;
    assert_eq!(cards_held(&app, "miriam", &id, 1), 1);
    assert!(
        live_cards(&app.inbox("miriam")).is_empty(),
        "the card nobody recorded was found and retired"
    );
    assert_eq!(app.card_holders(&id, 2), ["bianca"]);
}

#[tokio::test]
async fn a_chat_the_platform_holds_up_does_not_hold_up_anyone_else() {
    use stagegate::chat::port::Message;
    use stagegate::engine::jobs::Job;
    use stagegate::store::outbox::NewJob;

    let app = spawn_engine_app().await;
    let (miriam, bianca) = (app.persona("miriam"), app.persona("bianca"));
    // Miriam's chat is throttled and 40 messages queue for her (more than
    // the worker delivers at once), then one for Bianca.
    app.chat.hold(&miriam);
    let job = |i: usize, who: &stagegate::chat::identity::ChatIdentity| {
        let job = Job::ToIdentity {
            identity: who.clone(),
            message: Message::Text {
                text: format!("message {i}"),
            },
        };
        NewJob {
            key: format!("test:{i}"),
            lane: job.lane(),
            job: serde_json::to_string(&job).unwrap(),
        }
    };
    let mut jobs: Vec<NewJob> = (0..40).map(|i| job(i, &miriam)).collect();
    jobs.push(job(40, &bianca));
    let store = app.engine.store();
    store
        .enqueue(None, &jobs, chrono::Utc::now())
        .await
        .unwrap();
    app.engine.wake_outbox();

    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        app.chat.posted_to(&app.dm("bianca")),
    )
    .await
    .expect("Bianca's message went out while Miriam's chat was held up");
    assert!(app.inbox("miriam").is_empty());

    app.chat.release(&miriam);
    app.settle().await;
    let got = texts(&app.inbox("miriam"));
    assert_eq!(got.len(), 40, "every message once: {got:?}");
    assert_eq!(texts(&app.inbox("bianca")), ["message 40"]);
}

#[tokio::test]
async fn platform_rate_limits_are_absorbed() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.chat.rate_limit_next(3);
    let id = app.request("alex", GLOBAL).await;
    assert_eq!(app.card_holders(&id, 1), ["miriam"]);
    assert_eq!(live_cards(&app.inbox("miriam")).len(), 1);
}

#[tokio::test]
async fn an_unreachable_approver_is_reported_not_skipped() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.chat.set_unreachable(&app.persona("miriam"));
    // Nor has she a Slack account the bot could find her by.
    app.sandbox
        .state
        .slack
        .lock()
        .users
        .retain(|_, u| u.key != "miriam");
    let id = app.request("alex", GLOBAL).await;
    assert!(app.inbox("miriam").is_empty());
    assert!(
        texts(&app.inbox("alex"))
            .iter()
            .any(|t| t.contains("can't reach Miriam Graham")),
        "{:?}",
        texts(&app.inbox("alex"))
    );
    let alerts = texts(&app.security());
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("Approver unreachable") && a.contains(&id.to_string())),
        "{alerts:?}"
    );
}

mod recovery {
    use stagegate::store::DecisionState;
    use stagegate::store::decisions::NewDecision;
    use stagegate_domain::approval::Review;

    use crate::engine_support::{decided_cards, spawn_engine_app};

    const GLOBAL: &str = "request global-admin INC-42 rotate the break-glass certificate";

    /// A crash after the decision reached Graph: recovery verifies
    /// `reviewedBy` and marks it relayed, without relaying again.
    #[tokio::test]
    async fn a_relaying_decision_is_verified_against_graph_after_a_restart() {
        let app = spawn_engine_app().await;
        app.link("alex").await;
        app.link("miriam").await;
        let id = app.request("alex", GLOBAL).await;
        let card = app.card("miriam", &id, 1).expect("card");
        let (r, miriam) = (id.to_string(), app.sandbox.persona_id("miriam"));
        let decision = app
            .engine
            .store()
            .record_decision(
                &NewDecision {
                    request_id: &id,
                    stage: 1,
                    stage_id: &card.stage_id,
                    approver: &miriam.parse().unwrap(),
                    identity: &app.persona("miriam"),
                    review: Review::Approve,
                    justification: "relayed before the crash",
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        app.engine
            .store()
            .set_decision_state(decision, DecisionState::Relaying, None, chrono::Utc::now())
            .await
            .unwrap();
        let (status, _) = app
            .sandbox
            .decide("miriam", &r, "Approve", "relayed before the crash")
            .await;
        assert_eq!(status, 204);

        let app = app.restart().await;
        app.engine.recover_decisions().await.unwrap();
        app.settle().await;
        let live = app
            .engine
            .store()
            .live_decision(&id, 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.state, DecisionState::Relayed);
        let decided = decided_cards(&app.inbox("miriam"));
        assert_eq!(decided.len(), 1);
        assert_eq!(
            decided[0].1,
            "Approved by Miriam Graham: “relayed before the crash”"
        );
        assert_eq!(app.card_holders(&id, 2), ["bianca"]);
    }

    /// A crash after recording, before relaying: recovery relays it, as
    /// the approver, with the recorded justification.
    #[tokio::test]
    async fn a_recorded_decision_is_relayed_after_a_restart() {
        let app = spawn_engine_app().await;
        app.link("alex").await;
        app.link("miriam").await;
        let id = app.request("alex", GLOBAL).await;
        let card = app.card("miriam", &id, 1).expect("card");
        let (r, miriam) = (id.to_string(), app.sandbox.persona_id("miriam"));
        app.engine
            .store()
            .record_decision(
                &NewDecision {
                    request_id: &id,
                    stage: 1,
                    stage_id: &card.stage_id,
                    approver: &miriam.parse().unwrap(),
                    identity: &app.persona("miriam"),
                    review: Review::Approve,
                    justification: "recorded before the crash",
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let app = app.restart().await;
        app.engine.recover_decisions().await.unwrap();
        app.settle().await;
        {
            let world = app.sandbox.state.world();
            let stage = &world.requests[&r].stages[0];
            assert_eq!(stage.reviewed_by.as_deref(), Some(miriam.as_str()));
            assert_eq!(stage.justification, "recorded before the crash");
        }
        assert_eq!(app.card_holders(&id, 2), ["bianca"]);
    }
}
