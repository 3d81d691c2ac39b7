//! The token endpoint's client-credentials grant and client authentication.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::entra_support::{app, claims, entra_error, token};
use crate::helpers::{TestSandbox, spawn_sandbox};

const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";

/// Graph authenticates before it resolves the path: 400 for an unknown
/// segment means the token was accepted, 401 that it was not.
pub async fn graph_accepts(sandbox: &TestSandbox, access_token: &str) -> bool {
    let status = sandbox
        .http
        .get(sandbox.graph("/zzzEntraProbe"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status == 400 || status == 401, "{status}");
    status == 400
}

#[tokio::test]
async fn client_credentials_for_graph_carries_the_apps_roles_in_v1_format() {
    let sandbox = spawn_sandbox().await;
    let (tenant, client_id, _) = app(&sandbox);
    let response = token(
        &sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);
    assert_eq!(body["ext_expires_in"], body["expires_in"]);
    assert!(body.get("refresh_token").is_none() && body.get("scope").is_none());
    let jwt = body["access_token"].as_str().unwrap();
    let c = claims(jwt);
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["iss"], format!("https://sts.windows.net/{tenant}/"));
    assert_eq!(c["tid"], tenant);
    assert_eq!(c["appid"], client_id);
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "1.0");
    assert!(c.get("scp").is_none());
    let roles: Vec<&str> = c["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(roles, sandbox.state.world().app.application_permissions);
    assert!(c["nbf"].as_i64().unwrap() <= c["iat"].as_i64().unwrap());
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());
    assert!(graph_accepts(&sandbox, jwt).await);
}

#[tokio::test]
async fn client_authentication_by_basic_and_its_failures() {
    let sandbox = spawn_sandbox().await;
    let (tenant, client_id, secret) = app(&sandbox);
    let url = sandbox.url(&format!("/login/{tenant}/oauth2/v2.0/token"));
    let basic = STANDARD.encode(format!("{client_id}:{secret}"));
    let ok = sandbox
        .http
        .post(&url)
        .header("authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let wrong = "definitely-not-the-secret";
    let response = sandbox
        .http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
            ("client_id", &client_id),
            ("client_secret", wrong),
        ])
        .send()
        .await
        .unwrap();
    let body = entra_error(response, 401, "invalid_client", 7000215).await;
    assert!(!body.to_string().contains(wrong), "the secret is echoed");

    let bad_basic = STANDARD.encode(format!("{client_id}:{wrong}"));
    let response = sandbox
        .http
        .post(&url)
        .header("authorization", format!("Basic {bad_basic}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
        ])
        .send()
        .await
        .unwrap();
    entra_error(response, 401, "invalid_client", 7000215).await;

    let response = sandbox
        .http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
            ("client_id", &client_id),
        ])
        .send()
        .await
        .unwrap();
    entra_error(response, 401, "invalid_client", 7000218).await;

    let unknown = "11111111-2222-3333-4444-555555555555";
    let response = sandbox
        .http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_DEFAULT),
            ("client_id", unknown),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    let body = entra_error(response, 400, "unauthorized_client", 700016).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(unknown)
    );
    assert!(!body.to_string().contains(&secret));
}

#[tokio::test]
async fn botframework_resource_gets_a_v2_app_token_that_graph_refuses() {
    let sandbox = spawn_sandbox().await;
    let (tenant, client_id, _) = app(&sandbox);
    let response = token(
        &sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "https://api.botframework.com/.default"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    let c = claims(jwt);
    assert_eq!(c["aud"], "https://api.botframework.com");
    assert_eq!(c["iss"], sandbox.url(&format!("/login/{tenant}/v2.0")));
    assert_eq!(c["azp"], client_id);
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["tid"], tenant);
    assert!(c.get("appid").is_none() && c.get("scp").is_none());
    assert!(!graph_accepts(&sandbox, jwt).await);
}

/// Form fields, expected `error`, expected AADSTS code.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, u64);

#[tokio::test]
async fn scopes_and_grant_types_are_checked_as_entra_does() {
    let sandbox = spawn_sandbox().await;
    let cases: [Case; 6] = [
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "api://unknown-api/.default"),
            ],
            "invalid_resource",
            500011,
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("scope", "https://graph.microsoft.com/User.Read.All"),
            ],
            "invalid_scope",
            1002012,
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                (
                    "scope",
                    "https://graph.microsoft.com/.default https://api.botframework.com/.default",
                ),
            ],
            "invalid_scope",
            70011,
        ),
        (
            &[("grant_type", "client_credentials")],
            "invalid_request",
            900144,
        ),
        (
            &[("grant_type", "password")],
            "unsupported_grant_type",
            70003,
        ),
        (&[("scope", GRAPH_DEFAULT)], "invalid_request", 900144),
    ];
    for (fields, error, code) in cases {
        entra_error(token(&sandbox, fields).await, 400, error, code).await;
    }
}
