//! Discovery, keys and tenant resolution of the emulated Entra.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::entra_support::{app, entra_error, token};
use crate::helpers::spawn_sandbox;

#[tokio::test]
async fn openid_configuration_by_id_or_domain_and_its_keys_verify_issued_tokens() {
    let sandbox = spawn_sandbox().await;
    let (tenant, _, _) = app(&sandbox);
    let login = sandbox.url("/login");
    for segment in [tenant.as_str(), "contoso.example", &tenant.to_uppercase()] {
        let config: Value = sandbox
            .http
            .get(format!(
                "{login}/{segment}/v2.0/.well-known/openid-configuration"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The issuer always names the tenant id, whichever alias was used.
        assert_eq!(config["issuer"], format!("{login}/{tenant}/v2.0"));
        assert_eq!(
            config["authorization_endpoint"],
            format!("{login}/{tenant}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            config["token_endpoint"],
            format!("{login}/{tenant}/oauth2/v2.0/token")
        );
        assert_eq!(
            config["jwks_uri"],
            format!("{login}/{tenant}/discovery/v2.0/keys")
        );
        assert_eq!(config["id_token_signing_alg_values_supported"][0], "RS256");
        assert!(
            config["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap()
                .contains(&"client_secret_basic".into())
        );
        assert_eq!(config["subject_types_supported"][0], "pairwise");
        assert_eq!(config["tenant_region_scope"], "WW");
    }
    let config: Value = sandbox
        .http
        .get(format!(
            "{login}/{tenant}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks: Value = sandbox
        .http
        .get(config["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");

    let response = token(
        &sandbox,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await;
    let body: Value = response.json().await.unwrap();
    let jwt = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["https://graph.microsoft.com"]);
    let verified = jsonwebtoken::decode::<Value>(jwt, &decoding, &validation).unwrap();
    assert_eq!(verified.claims["tid"], tenant);

    // A token from another sandbox does not verify with these keys.
    let other = spawn_sandbox().await;
    let foreign = other.app_token().await;
    assert!(jsonwebtoken::decode::<Value>(&foreign, &decoding, &validation).is_err());
}

#[tokio::test]
async fn unknown_tenant_gets_aadsts90002_everywhere() {
    let sandbox = spawn_sandbox().await;
    let login = sandbox.url("/login/nosuchtenant.example");
    let correlation = "0b1e2d3c-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    let discovery = sandbox
        .http
        .get(format!("{login}/v2.0/.well-known/openid-configuration"))
        .header("client-request-id", correlation)
        .send()
        .await
        .unwrap();
    let body = entra_error(discovery, 400, "invalid_tenant", 90002).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Tenant 'nosuchtenant.example' not found")
    );
    assert_eq!(body["correlation_id"], correlation);
    let ts = body["timestamp"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "{ts}"
    );

    let keys = sandbox
        .http
        .get(format!("{login}/discovery/v2.0/keys"))
        .send()
        .await
        .unwrap();
    entra_error(keys, 400, "invalid_tenant", 90002).await;
    let token = sandbox
        .http
        .post(format!("{login}/oauth2/v2.0/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    entra_error(token, 400, "invalid_tenant", 90002).await;
    let page = sandbox
        .http
        .get(format!("{login}/oauth2/v2.0/authorize?client_id=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("AADSTS90002"));
}

#[tokio::test]
async fn common_endpoint_publishes_templated_issuer_but_refuses_our_single_tenant_app() {
    let sandbox = spawn_sandbox().await;
    let config: Value = sandbox
        .http
        .get(sandbox.url("/login/common/v2.0/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["issuer"], sandbox.url("/login/{tenantid}/v2.0"));
    let (_, client_id, secret) = app(&sandbox);
    let response = sandbox
        .http
        .post(sandbox.url("/login/common/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    entra_error(response, 400, "invalid_request", 50194).await;
}
