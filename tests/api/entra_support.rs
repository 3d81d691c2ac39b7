//! A tiny scripted browser and OAuth client for the emulated Entra: drives
//! the sign-in pages over HTTP as a person would, keeps the session cookie,
//! and reads tokens' claims.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::helpers::TestSandbox;

pub const REDIRECT: &str = "http://127.0.0.1:53682/auth/callback";
pub const SCOPES: &str =
    "openid profile offline_access User.Read EntitlementManagement.ReadWrite.All";

pub fn pkce() -> (String, String) {
    let verifier =
        format!("v{}", uuid::Uuid::new_v4().simple()) + &uuid::Uuid::new_v4().simple().to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn app(sandbox: &TestSandbox) -> (String, String, String) {
    let world = sandbox.state.world();
    (
        world.tenant_id.clone(),
        world.app.client_id.clone(),
        world.app.client_secret.clone(),
    )
}

/// The JWT's claims, unverified (signature checks are in the discovery test).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

/// `name="ctx" value="…"` and friends.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page: {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn mfa_number(html: &str) -> String {
    let marker = "id=\"mfa-number\">";
    let start = html.find(marker).expect("an MFA page") + marker.len();
    html[start..].split('<').next().unwrap().to_owned()
}

/// The query of a redirect's `Location`.
pub fn location(response: &reqwest::Response) -> (String, HashMap<String, String>) {
    let location = response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no redirect, status {}", response.status()))
        .to_str()
        .unwrap();
    let url = url::Url::parse(location).unwrap();
    let mut target = url.clone();
    target.set_query(None);
    let target = target.to_string();
    (target, url.query_pairs().into_owned().collect())
}

pub struct Browser<'a> {
    pub sandbox: &'a TestSandbox,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(sandbox: &'a TestSandbox) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            sandbox,
            http,
            cookie: None,
        }
    }

    fn remember(&mut self, response: &reqwest::Response) {
        if let Some(c) = response.headers().get(SET_COOKIE) {
            let c = c.to_str().unwrap();
            self.cookie = Some(c.split(';').next().unwrap().to_owned());
        }
    }

    /// The authorize URL with the standard parameters plus `extra`
    /// (an empty value removes a parameter).
    pub fn authorize_url(&self, challenge: &str, extra: &[(&str, &str)]) -> String {
        let (tenant, client_id, _) = app(self.sandbox);
        let mut params: Vec<(String, String)> = [
            ("client_id", client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", SCOPES),
            ("state", "st-123"),
            ("nonce", "n-456"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in extra {
            params.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                params.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        self.sandbox
            .url(&format!("/login/{tenant}/oauth2/v2.0/authorize?{query}"))
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let mut request = self.http.get(url);
        if let Some(c) = &self.cookie {
            request = request.header(COOKIE, c);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// Posts a sign-in form step (`signin`, `mfa`, `consent`).
    pub async fn post(&mut self, step: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let (tenant, _, _) = app(self.sandbox);
        let url = self
            .sandbox
            .url(&format!("/login/{tenant}/oauth2/v2.0/authorize/{step}"));
        let mut request = self.http.post(url).form(fields);
        if let Some(c) = &self.cookie {
            request = request.header(COOKIE, c);
        }
        let response = request.send().await.unwrap();
        self.remember(&response);
        response
    }

    /// Picks `persona` on the picker page the authorize URL shows, passes
    /// the MFA step when one comes, and returns the redirect's parameters.
    pub async fn sign_in(&mut self, url: &str, persona: &str) -> HashMap<String, String> {
        let page = self.get(url).await;
        assert_eq!(page.status(), 200, "picker expected");
        let html = page.text().await.unwrap();
        let ctx = hidden(&html, "ctx");
        let response = self
            .post(
                "signin",
                &[("ctx", &ctx), ("persona", persona), ("action", "signin")],
            )
            .await;
        let response = if response.status() == 200 {
            let html = response.text().await.unwrap();
            let (ctx, number) = (hidden(&html, "ctx"), mfa_number(&html));
            self.post(
                "mfa",
                &[("ctx", &ctx), ("number", &number), ("action", "approve")],
            )
            .await
        } else {
            response
        };
        assert_eq!(response.status(), 302);
        let (target, params) = location(&response);
        assert_eq!(target, REDIRECT);
        params
    }
}

/// Posts to the token endpoint with the app's secret in the body.
pub async fn token(sandbox: &TestSandbox, fields: &[(&str, &str)]) -> reqwest::Response {
    let (tenant, client_id, secret) = app(sandbox);
    let mut form: Vec<(&str, &str)> = vec![("client_id", &client_id), ("client_secret", &secret)];
    form.extend_from_slice(fields);
    sandbox
        .http
        .post(sandbox.url(&format!("/login/{tenant}/oauth2/v2.0/token")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

pub async fn redeem(sandbox: &TestSandbox, code: &str, verifier: &str) -> reqwest::Response {
    token(
        sandbox,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(sandbox: &TestSandbox, refresh_token: &str) -> reqwest::Response {
    token(
        sandbox,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// Asserts an Entra error body and returns it.
pub async fn entra_error(
    response: reqwest::Response,
    status: u16,
    error: &str,
    code: u64,
) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "));
    for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
    body
}

/// Full sign-in of `persona` and code redemption; the token response.
pub async fn sign_in_tokens(sandbox: &TestSandbox, persona: &str, extra: &[(&str, &str)]) -> Value {
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new(sandbox);
    let url = browser.authorize_url(&challenge, extra);
    let params = browser.sign_in(&url, persona).await;
    let response = redeem(sandbox, &params["code"], &verifier).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}
