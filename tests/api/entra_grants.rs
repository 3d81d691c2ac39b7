//! Redeeming codes and refresh tokens: PKCE, single use, expiry, redirect
//! URI binding, rotation, disabled users and revoked grants.

use std::time::Duration;

use serde_json::Value;

use crate::entra_support::{
    Browser, REDIRECT, claims, entra_error, pkce, redeem, refresh, sign_in_tokens, token,
};
use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn bad_verifier_spends_the_code_and_a_reused_code_is_refused() {
    let sandbox = spawn_sandbox().await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let params = browser
        .sign_in(&browser.authorize_url(&challenge, &[]), "alex")
        .await;
    let (other_verifier, _) = pkce();
    entra_error(
        redeem(&sandbox, &params["code"], &other_verifier).await,
        400,
        "invalid_grant",
        50148,
    )
    .await;
    entra_error(
        redeem(&sandbox, &params["code"], &verifier).await,
        400,
        "invalid_grant",
        54005,
    )
    .await;

    let params = browser
        .sign_in(
            &browser.authorize_url(&challenge, &[("prompt", "login")]),
            "alex",
        )
        .await;
    assert_eq!(
        redeem(&sandbox, &params["code"], &verifier).await.status(),
        200
    );
    let reused = redeem(&sandbox, &params["code"], &verifier).await;
    let body = entra_error(reused, 400, "invalid_grant", 54005).await;
    assert!(
        !body.to_string().contains(&params["code"]),
        "the code is echoed"
    );

    entra_error(
        redeem(&sandbox, "0.Anot-a-code", &verifier).await,
        400,
        "invalid_grant",
        9002313,
    )
    .await;
    let no_verifier = token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    entra_error(no_verifier, 400, "invalid_grant", 9002313).await;
}

#[tokio::test]
async fn the_redirect_uri_must_be_the_one_used_at_authorize() {
    let sandbox = spawn_sandbox().await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let params = browser
        .sign_in(&browser.authorize_url(&challenge, &[]), "alex")
        .await;
    let response = token(
        &sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", "http://localhost:53682/auth/callback"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    entra_error(response, 400, "invalid_grant", 70000).await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let sandbox = spawn_sandbox().await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(&sandbox);
    let params = browser
        .sign_in(&browser.authorize_url(&challenge, &[]), "alex")
        .await;
    sandbox
        .state
        .entra
        .lock()
        .unwrap()
        .set_code_lifetime(Duration::ZERO);
    entra_error(
        redeem(&sandbox, &params["code"], &verifier).await,
        400,
        "invalid_grant",
        70008,
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_keeps_the_sign_in_and_leaves_the_old_token_valid() {
    let sandbox = spawn_sandbox().await;
    let first = sign_in_tokens(
        &sandbox,
        "alex",
        &[(
            "claims",
            r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
        )],
    )
    .await;
    let original = claims(first["access_token"].as_str().unwrap());
    let old_refresh = first["refresh_token"].as_str().unwrap();
    let response = refresh(&sandbox, old_refresh).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    let new_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, old_refresh, "a new refresh token every time");
    let renewed = claims(second["access_token"].as_str().unwrap());
    assert_ne!(renewed["uti"], original["uti"]);
    for claim in ["amr", "acrs", "auth_time", "oid", "scp", "appid"] {
        assert_eq!(renewed[claim], original[claim], "{claim}");
    }
    assert_eq!(renewed["amr"], serde_json::json!(["pwd", "mfa"]));
    let id = claims(second["id_token"].as_str().unwrap());
    assert!(
        id.get("nonce").is_none(),
        "nonce is only echoed on the sign-in"
    );
    // Entra does not revoke a refresh token when it is used.
    assert_eq!(refresh(&sandbox, old_refresh).await.status(), 200);
    assert_eq!(refresh(&sandbox, new_refresh).await.status(), 200);

    // A narrower scope on refresh; an unconsented one is refused.
    let narrow = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", new_refresh),
            ("scope", "User.Read offline_access"),
        ],
    )
    .await;
    let narrow: Value = narrow.json().await.unwrap();
    assert_eq!(
        claims(narrow["access_token"].as_str().unwrap())["scp"],
        "User.Read"
    );
    assert!(narrow.get("id_token").is_none());
    let wide = token(
        &sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", new_refresh),
            ("scope", "Directory.ReadWrite.All"),
        ],
    )
    .await;
    entra_error(wide, 400, "invalid_grant", 65001).await;
    entra_error(
        refresh(&sandbox, "1.Anot-a-refresh-token").await,
        400,
        "invalid_grant",
        9002313,
    )
    .await;
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh_until_enabled_again() {
    let sandbox = spawn_sandbox().await;
    let tokens = sign_in_tokens(&sandbox, "alex", &[]).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let disabled = sandbox
        .http
        .post(sandbox.url("/sim/personas/alex/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert!(
        !sandbox
            .state
            .world()
            .user_by_key("alex")
            .unwrap()
            .account_enabled
    );
    entra_error(refresh(&sandbox, rt).await, 400, "invalid_grant", 50057).await;
    sandbox
        .http
        .post(sandbox.url("/sim/personas/alex/enable"))
        .send()
        .await
        .unwrap();
    assert_eq!(refresh(&sandbox, rt).await.status(), 200);
    let unknown = sandbox
        .http
        .post(sandbox.url("/sim/personas/nobody/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn revoking_a_persona_ends_every_refresh_token_of_theirs() {
    let sandbox = spawn_sandbox().await;
    let alex = sign_in_tokens(&sandbox, "alex", &[]).await;
    let miriam = sign_in_tokens(&sandbox, "miriam", &[]).await;
    let rotated: Value = refresh(&sandbox, alex["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let revoked = sandbox
        .http
        .post(sandbox.url("/sim/personas/alex/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    for rt in [&alex["refresh_token"], &rotated["refresh_token"]] {
        let body = entra_error(
            refresh(&sandbox, rt.as_str().unwrap()).await,
            400,
            "invalid_grant",
            50173,
        )
        .await;
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("revoked")
        );
    }
    // Others are unaffected, and Alex can sign in afresh.
    assert_eq!(
        refresh(&sandbox, miriam["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    let again = sign_in_tokens(&sandbox, "alex", &[]).await;
    assert_eq!(
        refresh(&sandbox, again["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}
