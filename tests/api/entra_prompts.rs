//! The authorize endpoint's prompts and hints: disabled personas, silent
//! sign-in (`prompt=none`) and SSO, `login_hint`, consent.

use serde_json::Value;

use crate::entra_support::{Browser, REDIRECT, claims, hidden, location, pkce, redeem};
use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn disabled_persona_is_listed_but_refused_at_sign_in() {
    let sandbox = spawn_sandbox().await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let html = browser
        .get(&browser.authorize_url(&challenge, &[]))
        .await
        .text()
        .await
        .unwrap();
    let ctx = hidden(&html, "ctx");
    let refused = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "nestor"), ("action", "signin")],
        )
        .await;
    assert_eq!(refused.status(), 200);
    assert!(refused.headers().get("location").is_none());
    let html = refused.text().await.unwrap();
    assert!(html.contains("AADSTS50057"));
    // The picker is shown again; another persona can still sign in.
    let ctx = hidden(&html, "ctx");
    let ok = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "adele"), ("action", "signin")],
        )
        .await;
    assert_eq!(ok.status(), 302);
    assert!(location(&ok).1.contains_key("code"));
}

#[tokio::test]
async fn prompt_none_needs_a_session_and_sso_reuses_it() {
    let sandbox = spawn_sandbox().await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let silent = browser
        .get(&browser.authorize_url(&challenge, &[("prompt", "none")]))
        .await;
    let (target, params) = location(&silent);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["error"], "login_required");
    assert!(params["error_description"].starts_with("AADSTS50058:"));
    assert_eq!(params["state"], "st-123");

    browser
        .sign_in(&browser.authorize_url(&challenge, &[]), "alex")
        .await;
    let silent = browser
        .get(&browser.authorize_url(&challenge, &[("prompt", "none")]))
        .await;
    let (_, params) = location(&silent);
    let body: Value = redeem(&sandbox, &params["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["oid"],
        sandbox.persona_id("alex")
    );

    // The session has no MFA: a silent request demanding it needs interaction.
    let step_up = browser
        .get(&browser.authorize_url(
            &challenge,
            &[
                ("prompt", "none"),
                (
                    "claims",
                    r#"{"access_token":{"acrs":{"essential":true,"value":"c2"}}}"#,
                ),
            ],
        ))
        .await;
    assert_eq!(location(&step_up).1["error"], "interaction_required");
    // A hint naming someone else is not satisfied by Alex's session.
    let other = browser
        .get(&browser.authorize_url(
            &challenge,
            &[("prompt", "none"), ("login_hint", "bianca@contoso.example")],
        ))
        .await;
    assert_eq!(location(&other).1["error"], "login_required");

    // Revoking Alex's sessions ends SSO.
    sandbox
        .http
        .post(sandbox.url("/sim/personas/alex/revoke"))
        .send()
        .await
        .unwrap();
    let silent = browser
        .get(&browser.authorize_url(&challenge, &[("prompt", "none")]))
        .await;
    assert_eq!(location(&silent).1["error"], "login_required");
}

#[tokio::test]
async fn login_hint_preselects_and_consent_prompts_are_honoured() {
    let sandbox = spawn_sandbox().await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let html = browser
        .get(&browser.authorize_url(
            &challenge,
            &[
                ("login_hint", "diego@contoso.example"),
                ("prompt", "consent"),
            ],
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("value=\"diego\" checked"));
    let ctx = hidden(&html, "ctx");
    let consent = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "diego"), ("action", "signin")],
        )
        .await;
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(
        html.contains("Permissions requested")
            && html.contains("EntitlementManagement.ReadWrite.All")
    );
    let done = browser
        .post(
            "consent",
            &[("ctx", &hidden(&html, "ctx")), ("action", "accept")],
        )
        .await;
    let (_, params) = location(&done);
    assert_eq!(
        redeem(&sandbox, &params["code"], &verifier).await.status(),
        200
    );

    // A permission nobody consented to: users here cannot consent.
    let url = browser.authorize_url(&challenge, &[("scope", "openid Directory.ReadWrite.All")]);
    let html = browser.get(&url).await.text().await.unwrap();
    assert!(
        html.contains("AADSTS90094"),
        "SSO lands on the admin-approval page"
    );
    let back = browser
        .post(
            "consent",
            &[("ctx", &hidden(&html, "ctx")), ("action", "cancel")],
        )
        .await;
    assert_eq!(location(&back).1["error"], "access_denied");
    let silent = browser
        .get(&browser.authorize_url(
            &challenge,
            &[
                ("scope", "openid Directory.ReadWrite.All"),
                ("prompt", "none"),
            ],
        ))
        .await;
    assert_eq!(location(&silent).1["error"], "consent_required");
}
