//! The authorize endpoint and its sign-in pages, driven over HTTP as a
//! browser would.

use serde_json::Value;

use crate::entra_support::{
    Browser, REDIRECT, app, claims, hidden, location, mfa_number, pkce, redeem,
};
use crate::entra_token::graph_accepts;
use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn code_flow_through_the_picker_issues_entra_shaped_tokens() {
    let sandbox = spawn_sandbox().await;
    let (tenant, client_id, _) = app(&sandbox);
    let alex = sandbox.persona_id("alex");
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let url = browser.authorize_url(&challenge, &[]);
    let page = browser.get(&url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Alex Wilber") && html.contains("(account disabled)"));
    assert!(!html.contains("<script"));
    let ctx = hidden(&html, "ctx");
    let done = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "alex"), ("action", "signin")],
        )
        .await;
    assert_eq!(done.status(), 302);
    let (target, params) = location(&done);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["state"], "st-123");
    assert!(browser.cookie.is_some(), "a session cookie is set");

    let before = chrono::Utc::now().timestamp();
    let response = redeem(&sandbox, &params["code"], &verifier).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"],
        "User.Read EntitlementManagement.ReadWrite.All openid profile offline_access"
    );
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(body["ext_expires_in"], body["expires_in"]);
    assert!(body["refresh_token"].is_string());

    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], "https://graph.microsoft.com");
    assert_eq!(access["iss"], format!("https://sts.windows.net/{tenant}/"));
    assert_eq!(access["tid"], tenant);
    assert_eq!(access["oid"], alex);
    assert_eq!(
        access["scp"],
        "User.Read EntitlementManagement.ReadWrite.All"
    );
    assert_eq!(access["amr"], serde_json::json!(["pwd"]));
    assert!(access.get("acrs").is_none());
    assert_eq!(access["appid"], client_id);
    assert_eq!(access["idtyp"], "user");
    assert!(access["auth_time"].as_i64().unwrap() >= before - 5);
    assert!(access["iat"].as_i64().is_some() && access["nbf"].as_i64().is_some());
    assert!(access["exp"].as_i64().unwrap() > before);
    assert!(graph_accepts(&sandbox, body["access_token"].as_str().unwrap()).await);

    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], client_id);
    assert_eq!(id["iss"], sandbox.url(&format!("/login/{tenant}/v2.0")));
    assert_eq!(id["tid"], tenant);
    assert_eq!(id["oid"], alex);
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["preferred_username"], "alex@contoso.example");
    assert_eq!(id["ver"], "2.0");
    assert_ne!(id["sub"], access["sub"], "ID token subjects are pairwise");
}

#[tokio::test]
async fn claims_request_for_auth_context_forces_the_mfa_step_and_sets_acrs() {
    let sandbox = spawn_sandbox().await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let claims_request = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let url = browser.authorize_url(&challenge, &[("claims", claims_request)]);
    let html = browser.get(&url).await.text().await.unwrap();
    let ctx = hidden(&html, "ctx");
    let mfa_page = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "miriam"), ("action", "signin")],
        )
        .await;
    assert_eq!(mfa_page.status(), 200, "the MFA step comes before any code");
    let html = mfa_page.text().await.unwrap();
    let ctx = hidden(&html, "ctx");
    assert!(mfa_number(&html).parse::<u8>().is_ok());

    // The consent step cannot be reached while MFA is pending; the attempt
    // ends that sign-in.
    let skip = browser
        .post("consent", &[("ctx", &ctx), ("action", "accept")])
        .await;
    assert_eq!(skip.status(), 400);
    let url = browser.authorize_url(
        &challenge,
        &[("claims", claims_request), ("prompt", "login")],
    );
    let html = browser.get(&url).await.text().await.unwrap();
    let ctx = hidden(&html, "ctx");
    let html = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "miriam"), ("action", "signin")],
        )
        .await
        .text()
        .await
        .unwrap();
    let (ctx, number_now) = (hidden(&html, "ctx"), mfa_number(&html));
    let wrong = if number_now == "10" { "11" } else { "10" };
    let retry = browser
        .post(
            "mfa",
            &[("ctx", &ctx), ("number", wrong), ("action", "approve")],
        )
        .await;
    assert_eq!(retry.status(), 200);
    let html = retry.text().await.unwrap();
    assert!(html.contains("doesn't match"));
    let ctx = hidden(&html, "ctx");
    let done = browser
        .post(
            "mfa",
            &[
                ("ctx", &ctx),
                ("number", &number_now),
                ("action", "approve"),
            ],
        )
        .await;
    assert_eq!(done.status(), 302);
    let (_, params) = location(&done);
    let body: Value = redeem(&sandbox, &params["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], serde_json::json!(["pwd", "mfa"]));
    assert_eq!(access["acrs"], serde_json::json!(["c1"]));
    assert_eq!(access["oid"], sandbox.persona_id("miriam"));
}

#[tokio::test]
async fn cancelling_and_denying_redirect_with_access_denied() {
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
    let cancelled = browser
        .post("signin", &[("ctx", &ctx), ("action", "cancel")])
        .await;
    let (target, params) = location(&cancelled);
    assert_eq!(target, REDIRECT);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");
    assert!(!params.contains_key("code"));

    let url = browser.authorize_url(
        &challenge,
        &[(
            "claims",
            r#"{"id_token":{"amr":{"essential":true,"values":["mfa"]}}}"#,
        )],
    );
    let html = browser.get(&url).await.text().await.unwrap();
    let ctx = hidden(&html, "ctx");
    let html = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "bianca"), ("action", "signin")],
        )
        .await
        .text()
        .await
        .unwrap();
    let denied = browser
        .post("mfa", &[("ctx", &hidden(&html, "ctx")), ("action", "deny")])
        .await;
    let (_, params) = location(&denied);
    assert_eq!(params["error"], "access_denied");
    assert!(params["error_description"].starts_with("AADSTS500121:"));

    // A spent sign-in context cannot be replayed.
    let replay = browser
        .post(
            "signin",
            &[("ctx", &ctx), ("persona", "bianca"), ("action", "signin")],
        )
        .await;
    assert_eq!(replay.status(), 400);
}

#[tokio::test]
async fn bad_client_or_redirect_uri_is_shown_not_redirected_other_errors_are_redirected() {
    let sandbox = spawn_sandbox().await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    for (extra, code) in [
        (
            vec![("client_id", "11111111-2222-3333-4444-555555555555")],
            "AADSTS700016",
        ),
        (
            vec![("redirect_uri", "https://evil.example/callback")],
            "AADSTS50011",
        ),
        (
            vec![("redirect_uri", "http://127.0.0.1:9999/other/path")],
            "AADSTS50011",
        ),
    ] {
        let response = browser
            .get(&browser.authorize_url(&challenge, &extra))
            .await;
        assert!(response.headers().get("location").is_none());
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains(code));
    }
    // Loopback redirect URIs match on any port.
    let any_port = browser
        .get(&browser.authorize_url(
            &challenge,
            &[("redirect_uri", "http://localhost:4321/auth/callback")],
        ))
        .await;
    assert_eq!(any_port.status(), 200);

    for (extra, error, code) in [
        (
            vec![("code_challenge", "")],
            "invalid_request",
            "AADSTS50147:",
        ),
        (
            vec![("code_challenge_method", "plain")],
            "invalid_request",
            "AADSTS50149:",
        ),
        (
            vec![("code_challenge", "short")],
            "invalid_request",
            "AADSTS501491:",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
            "AADSTS700051:",
        ),
        (vec![("scope", "")], "invalid_request", "AADSTS900144:"),
        (
            vec![("claims", "{not json")],
            "invalid_request",
            "AADSTS90100:",
        ),
        (
            vec![("scope", "openid api://not-registered/read")],
            "invalid_resource",
            "AADSTS500011:",
        ),
    ] {
        let response = browser
            .get(&browser.authorize_url(&challenge, &extra))
            .await;
        let (target, params) = location(&response);
        assert_eq!(target, REDIRECT);
        assert_eq!(params["error"], error, "{extra:?}");
        assert!(
            params["error_description"].starts_with(code),
            "{}",
            params["error_description"]
        );
        assert_eq!(params["state"], "st-123");
    }
}
