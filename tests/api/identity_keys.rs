//! Entra's signing keys as account linking sees them (security finding 8):
//! after Entra rolls its key over, the next sign-in (or MFA step-up)
//! succeeds without a restart; the configuration is fetched once for
//! concurrent first uses, again when a day old, once per interval for
//! unknown `kid`s, and a failed refresh keeps the last good one. Counts are
//! the fetches the emulated Entra received.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::Nonce;
use openidconnect::core::CoreIdToken;
use serde_json::json;
use stagegate::chat::port::Message;
use stagegate::identity::discovery::{Discovery, DiscoveryRules, EntraApp, VerifyError};
use stagegate_sandbox::entra::mint;
use stagegate_sandbox::keys::SigningKey;

use crate::engine_support::{EngineApp, spawn_engine_app, spawn_engine_app_with};
use crate::helpers::{TestSandbox, spawn_sandbox};

/// Entra rolls its signing key over (the previous keys stay published).
async fn rotate(sandbox: &TestSandbox) {
    let response = sandbox
        .http
        .post(sandbox.url("/sim/entra/keys/rotate"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// (discovery documents, key sets) the emulated Entra served.
fn fetches(sandbox: &TestSandbox) -> (u64, u64) {
    sandbox.state.entra_discovery.get()
}

#[tokio::test]
async fn a_sign_in_after_entra_rolls_its_key_over_succeeds_without_restart() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    assert_eq!(fetches(&app.sandbox), (1, 1));
    rotate(&app.sandbox).await;
    // The callback asserts 200: the ID token's new key was fetched.
    app.link("miriam").await;
    assert_eq!(
        fetches(&app.sandbox),
        (2, 2),
        "one refetch, for the new kid"
    );
    app.link("megan").await;
    assert_eq!(fetches(&app.sandbox), (2, 2), "the new key is kept");
}

#[tokio::test]
async fn an_mfa_step_up_after_entra_rolls_its_key_over_succeeds() {
    let app = spawn_engine_app_with(|settings| {
        let package = settings
            .engine
            .packages
            .iter_mut()
            .find(|p| p.alias == "global-admin")
            .expect("the sandbox configures global-admin");
        package.approval_requires_mfa = true;
        package.approval_mfa_max_age_minutes = 10;
    })
    .await;
    app.link("alex").await;
    app.link("miriam").await;
    let id = app
        .request(
            "alex",
            "request global-admin TICKET-8 rotate the certificate",
        )
        .await;
    let card = app.card("miriam", &id, 1).expect("Miriam's card");
    rotate(&app.sandbox).await;
    let reply = app
        .click("miriam", &EngineApp::approve(&card), Some("ok"))
        .await;
    let Message::SignInPrompt { url, .. } = &reply else {
        panic!("expected a step-up sign-in prompt, got {reply:?}");
    };
    app.sign_in(url, "miriam").await;
    let world = app.sandbox.state.world();
    let stage = &world.requests[&id.to_string()].stages[0];
    assert_eq!(stage.review_result, "Approved", "decided after the step-up");
}

fn discovery(sandbox: &TestSandbox, rules: DiscoveryRules) -> Discovery {
    let world = sandbox.state.world();
    let app = EntraApp {
        issuer: format!(
            "{}/{}/v2.0",
            sandbox.state.login_base_url(),
            world.tenant_id
        ),
        client_id: world.app.client_id.clone(),
        client_secret: world.app.client_secret.clone().into(),
        redirect_uri: "http://127.0.0.1:9/auth/callback".into(),
    };
    Discovery::new(reqwest::Client::new(), app).with_rules(rules)
}

/// An ID token for Alex with `nonce`, signed by `key` (the current Entra
/// key when `None`).
fn id_token(sandbox: &TestSandbox, nonce: &str, key: Option<&SigningKey>) -> CoreIdToken {
    let client_id = sandbox.state.world().app.client_id.clone();
    let alex = sandbox.persona_id("alex");
    let (jwt, claims) = mint::id_token(&sandbox.state, &alex, &client_id, Some(nonce)).unwrap();
    let jwt = key.map_or(jwt, |k| k.sign(&claims));
    CoreIdToken::from_str(&jwt).unwrap()
}

#[tokio::test]
async fn concurrent_first_uses_share_one_fetch() {
    let sandbox = spawn_sandbox().await;
    let entra = Arc::new(discovery(&sandbox, DiscoveryRules::default()));
    assert_eq!(fetches(&sandbox), (0, 0), "nothing until first use");
    let uses = (0..8).map(|_| {
        let entra = Arc::clone(&entra);
        tokio::spawn(async move { entra.client().await.map(|_| ()) })
    });
    for done in futures_util::future::join_all(uses).await {
        done.unwrap().unwrap();
    }
    assert_eq!(fetches(&sandbox), (1, 1));
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_per_interval_then_a_rotated_key_verifies() {
    let sandbox = spawn_sandbox().await;
    let entra = discovery(&sandbox, DiscoveryRules::default());
    let nonce = Nonce::new("n-1".into());
    entra
        .verify_id_token(&id_token(&sandbox, "n-1", None), &nonce)
        .await
        .expect("the current key verifies");
    assert_eq!(fetches(&sandbox), (1, 1));
    let stranger = SigningKey::generate("never-published");
    for _ in 0..2 {
        let forged = id_token(&sandbox, "n-1", Some(&stranger));
        let refused = entra.verify_id_token(&forged, &nonce).await;
        assert!(
            matches!(refused, Err(VerifyError::Rejected(_))),
            "{refused:?}"
        );
    }
    assert_eq!(fetches(&sandbox), (2, 2), "one refetch in the interval");

    let eager = discovery(
        &sandbox,
        DiscoveryRules {
            unknown_kid_interval: Duration::ZERO,
            ..DiscoveryRules::default()
        },
    );
    eager.client().await.unwrap();
    sandbox.state.entra_keys.rotate(false);
    let before = fetches(&sandbox);
    eager
        .verify_id_token(&id_token(&sandbox, "n-1", None), &nonce)
        .await
        .expect("the rotated key is fetched and verifies");
    assert_eq!(fetches(&sandbox), (before.0 + 1, before.1 + 1));
}

#[tokio::test]
async fn an_old_configuration_is_refetched_and_a_failed_refresh_keeps_the_last_good_one() {
    let sandbox = spawn_sandbox().await;
    let entra = discovery(
        &sandbox,
        DiscoveryRules {
            max_age: Duration::ZERO,
            retry_min: Duration::from_secs(3600),
            retry_max: Duration::from_secs(3600),
            ..DiscoveryRules::default()
        },
    );
    entra.client().await.unwrap();
    entra.client().await.unwrap();
    assert_eq!(fetches(&sandbox), (2, 2), "older than max_age: refetched");
    sandbox
        .add_fault(json!({ "service": "login", "path": "/*/v2.0/.well-known/*", "status": 503 }))
        .await;
    entra.client().await.expect("the last good configuration");
    assert_eq!(
        fetches(&sandbox),
        (3, 2),
        "the refresh was tried and failed"
    );
    entra.client().await.expect("the last good configuration");
    assert_eq!(fetches(&sandbox), (3, 2), "no retry before the backoff");
    assert_eq!(sandbox.faults().await[0]["hits"], 1);
}
