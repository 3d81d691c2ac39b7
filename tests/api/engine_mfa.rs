//! A package whose config demands a fresh MFA sign-in for approving:
//! the approver is sent through a step-up sign-in before anything reaches
//! Graph, and the kept decision completes by itself afterwards.

use chrono::Utc;
use stagegate::app::{AppOptions, Application};
use stagegate::chat::port::Message;
use stagegate::config::Settings;
use stagegate_domain::ids::RequestId;

use crate::engine_support::{EngineApp, live_cards, spawn_engine_app_with};
use crate::helpers::{loopback0, spawn_sandbox};
use stagegate_lab::wiring::BotWiring;

fn demand_mfa(minutes: u32) -> impl Fn(&mut Settings) + Send + Sync + 'static {
    move |settings: &mut Settings| {
        let package = settings
            .engine
            .packages
            .iter_mut()
            .find(|p| p.alias == "global-admin")
            .expect("the sandbox configures global-admin");
        package.approval_requires_mfa = true;
        package.approval_mfa_max_age_minutes = minutes;
    }
}

/// Alex's Global Admin request, with Miriam's stage-1 card out and Miriam
/// linked by an ordinary (single-factor) sign-in.
async fn requested(app: &EngineApp) -> RequestId {
    app.link("alex").await;
    app.link("miriam").await;
    app.request(
        "alex",
        "request global-admin TICKET-123 rotate the certificate",
    )
    .await
}

fn stage_one(app: &EngineApp, id: &RequestId) -> (String, Option<String>) {
    let world = app.sandbox.state.world();
    let stage = &world.requests[&id.to_string()].stages[0];
    (stage.review_result.clone(), stage.reviewed_by.clone())
}

#[tokio::test]
async fn a_decision_waits_for_an_mfa_sign_in_then_completes_by_itself() {
    let app = spawn_engine_app_with(demand_mfa(10)).await;
    let id = requested(&app).await;
    let card = app.card("miriam", &id, 1).expect("Miriam's card");

    let reply = app
        .click("miriam", &EngineApp::approve(&card), Some("Known incident"))
        .await;
    let Message::SignInPrompt { reason, url } = &reply else {
        panic!("expected a step-up sign-in prompt, got {reply:?}");
    };
    assert!(reason.contains("multifactor"), "{reason}");
    assert_eq!(
        stage_one(&app, &id).0,
        "NotReviewed",
        "nothing reaches Graph before the MFA sign-in"
    );

    let authorize = app.sign_in(url, "miriam").await;
    let query: Vec<(String, String)> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(param("prompt").as_deref(), Some("login"), "a fresh sign-in");
    let claims: serde_json::Value = serde_json::from_str(&param("claims").unwrap()).unwrap();
    assert_eq!(claims["access_token"]["amr"]["values"][0], "mfa");

    let (result, by) = stage_one(&app, &id);
    assert_eq!(result, "Approved");
    assert_eq!(
        by,
        Some(app.sandbox.persona_id("miriam")),
        "decided as Miriam"
    );
    assert!(
        app.card("miriam", &id, 1).is_none(),
        "Miriam's card retired once the decision landed"
    );
    let world = app.sandbox.state.world();
    assert_eq!(
        world.requests[&id.to_string()].stages[0].justification,
        "Known incident",
        "the justification typed before the sign-in was kept"
    );
}

#[tokio::test]
async fn a_recent_mfa_sign_in_decides_at_once_and_a_stale_one_does_not() {
    let app = spawn_engine_app_with(demand_mfa(10)).await;
    let id = requested(&app).await;
    let miriam = app.persona("miriam");
    let store = app.engine.store();

    store
        .set_mfa_at(&miriam, Utc::now() - chrono::Duration::minutes(11))
        .await
        .unwrap();
    let card = app.card("miriam", &id, 1).expect("Miriam's card");
    let reply = app
        .click("miriam", &EngineApp::approve(&card), Some("ok"))
        .await;
    assert!(
        matches!(reply, Message::SignInPrompt { .. }),
        "an MFA 11 minutes old is too old for a 10-minute policy: {reply:?}"
    );
    assert_eq!(stage_one(&app, &id).0, "NotReviewed");

    store
        .set_mfa_at(&miriam, Utc::now() - chrono::Duration::minutes(2))
        .await
        .unwrap();
    let reply = app
        .click("miriam", &EngineApp::approve(&card), Some("ok"))
        .await;
    assert!(reply.text().contains("Recorded"), "{reply:?}");
    assert_eq!(stage_one(&app, &id).0, "Approved");
    assert!(live_cards(&app.inbox("miriam")).is_empty());
}

#[tokio::test]
async fn packages_without_the_setting_need_no_step_up() {
    let app = spawn_engine_app_with(demand_mfa(10)).await;
    app.link("alex").await;
    app.link("lee").await;
    let id = app
        .request("alex", "request helpdesk-admin INC-9 reset a password")
        .await;
    let card = app.card("lee", &id, 1).expect("Lee's card");
    let reply = app
        .click("lee", &EngineApp::approve(&card), Some("ok"))
        .await;
    assert!(reply.text().contains("Recorded"), "{reply:?}");
}

#[tokio::test]
async fn a_max_age_outside_one_minute_to_a_day_is_refused_at_start() {
    let sandbox = spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    for minutes in [0, 1441] {
        let mut settings = sandbox
            .state
            .bot_settings(loopback0(), db.path().join("stagegate.db"));
        demand_mfa(minutes)(&mut settings);
        let error = Application::build_with(settings, AppOptions::default())
            .await
            .err()
            .expect("refused");
        assert!(
            error.to_string().contains("approval_mfa_max_age_minutes"),
            "{error}"
        );
    }
}
