//! The bot's inbound activity authentication (docs/architecture.md, "Teams
//! authentication"): every forged, stale or misdirected activity is refused
//! with 401 before the handler runs; a genuine one from the emulated connector
//! is accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use stagegate_sandbox::keys::SigningKey;
use stagegate_sandbox::teams::metadata::{channel_claims, sign};
use stagegate_sandbox::teams::{PublishedKey, Stats};

use crate::helpers::{TestSandbox, spawn_sandbox};
use crate::teams_support::{TestBot, auth_settings, spawn_bot, spawn_bot_with};

struct Setup {
    sandbox: TestSandbox,
    bot: TestBot,
    app_id: String,
    tenant: String,
    service_url: String,
}

async fn setup() -> Setup {
    let sandbox = spawn_sandbox().await;
    let bot = spawn_bot(&sandbox).await;
    let (app_id, tenant) = {
        let world = sandbox.state.world();
        (world.app.client_id.clone(), world.tenant_id.clone())
    };
    let service_url = sandbox.url("/teams/");
    Setup {
        sandbox,
        bot,
        app_id,
        tenant,
        service_url,
    }
}

impl Setup {
    /// A message from Alex in her 1:1 chat, as Teams sends it.
    fn activity(&self) -> Value {
        json!({
            "type": "message", "id": "1485983408511", "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": { "id": "29:1abc", "name": "Alex Wilber", "aadObjectId": "00000000-0000-0000-0000-00000000a1e5" },
            "conversation": { "conversationType": "personal", "id": "a:1xyz" },
            "recipient": { "id": format!("28:{}", self.app_id) },
            "text": "request global-admin TICKET-1 rotate",
            "channelData": { "tenant": { "id": self.tenant } },
        })
    }

    fn claims(&self) -> Value {
        channel_claims(&self.app_id, &self.service_url)
    }

    fn token_with(&self, claims: &Value) -> String {
        sign(&self.sandbox.state.teams.current_key(), claims)
    }

    async fn post(&self, authorization: Option<String>, body: &Value) -> u16 {
        let mut request = self.sandbox.http.post(&self.bot.endpoint).json(body);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn post_token(&self, token: &str) -> u16 {
        self.post(Some(format!("Bearer {token}")), &self.activity())
            .await
    }

    fn key_fetches(&self) -> u64 {
        Stats::get(&self.sandbox.state.teams.stats.key_fetches)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_genuine_activity_is_accepted_and_its_service_url_is_trusted() {
    let s = setup().await;
    let token = s
        .sandbox
        .state
        .teams
        .channel_token(&s.app_id, &s.service_url);
    assert_eq!(s.post_token(&token).await, 200);
    assert_eq!(s.bot.calls(), 1);
    let got = s.bot.last();
    assert_eq!(
        got.text.as_deref(),
        Some("request global-admin TICKET-1 rotate")
    );
    assert_eq!(got.tenant_id(), Some(s.tenant.as_str()));
}

#[tokio::test]
async fn forged_and_misdirected_tokens_are_refused_before_the_handler() {
    let s = setup().await;
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut wrong_issuer = s.claims();
    wrong_issuer["iss"] = json!("https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/");
    cases.push(("wrong issuer", wrong_issuer));
    let mut wrong_audience = s.claims();
    wrong_audience["aud"] = json!("11111111-2222-3333-4444-555555555555");
    cases.push(("wrong audience", wrong_audience));
    let mut no_audience = s.claims();
    no_audience.as_object_mut().unwrap().remove("aud");
    cases.push(("missing audience", no_audience));
    let mut other_service = s.claims();
    other_service["serviceurl"] = json!("https://smba.trafficmanager.net/amer/");
    cases.push(("serviceurl mismatch", other_service));
    let mut no_service = s.claims();
    no_service.as_object_mut().unwrap().remove("serviceurl");
    cases.push(("missing serviceurl", no_service));
    let mut expired = s.claims();
    expired["nbf"] = json!(now() - 7200);
    expired["exp"] = json!(now() - 301 - 5);
    cases.push(("expired beyond the 5 minute skew", expired));
    let mut early = s.claims();
    early["nbf"] = json!(now() + 301 + 5);
    cases.push(("not yet valid beyond the skew", early));
    for (name, claims) in &cases {
        let status = s.post_token(&s.token_with(claims)).await;
        assert_eq!(status, 401, "{name}");
    }
    assert_eq!(s.bot.calls(), 0, "no refused activity reached the handler");
}

#[tokio::test]
async fn clock_skew_of_up_to_five_minutes_is_tolerated() {
    let s = setup().await;
    let mut just_expired = s.claims();
    just_expired["exp"] = json!(now() - 120);
    just_expired["nbf"] = json!(now() - 3600);
    assert_eq!(s.post_token(&s.token_with(&just_expired)).await, 200);
    let mut slightly_early = s.claims();
    slightly_early["nbf"] = json!(now() + 120);
    assert_eq!(s.post_token(&s.token_with(&slightly_early)).await, 200);
    assert_eq!(s.bot.calls(), 2);
}

#[tokio::test]
async fn headers_algorithms_and_bodies_that_do_not_match_are_refused() {
    let s = setup().await;
    let genuine = s.token_with(&s.claims());
    let kid = s.sandbox.state.teams.current_key().key.kid().to_owned();
    // alg: none, with the real key's kid and valid claims.
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "typ": "JWT", "kid": kid }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(s.claims().to_string());
    let alg_none = format!("{none_header}.{payload}.");
    // HS256 keyed with something public (the classic RSA/HMAC confusion).
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid);
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &s.claims(),
        &jsonwebtoken::EncodingKey::from_secret(s.app_id.as_bytes()),
    )
    .unwrap();
    let mut other_tenant = s.activity();
    other_tenant["channelData"]["tenant"]["id"] = json!("72f988bf-86f1-41af-91ab-2d7cd011db47");
    let mut no_tenant = s.activity();
    no_tenant.as_object_mut().unwrap().remove("channelData");
    let mut other_service_url = s.activity();
    other_service_url["serviceUrl"] = json!("https://smba.trafficmanager.net/amer/");
    let cases: Vec<(&str, Option<String>, Value)> = vec![
        ("missing token", None, s.activity()),
        (
            "Basic scheme",
            Some(format!("Basic {genuine}")),
            s.activity(),
        ),
        (
            "lowercase bearer",
            Some(format!("bearer {genuine}")),
            s.activity(),
        ),
        ("alg none", Some(format!("Bearer {alg_none}")), s.activity()),
        ("HS256", Some(format!("Bearer {hs256}")), s.activity()),
        ("garbage", Some("Bearer not.a.jwt".into()), s.activity()),
        (
            "wrong tenant",
            Some(format!("Bearer {genuine}")),
            other_tenant,
        ),
        ("no tenant", Some(format!("Bearer {genuine}")), no_tenant),
        (
            "serviceUrl not the claim's",
            Some(format!("Bearer {genuine}")),
            other_service_url,
        ),
    ];
    for (name, authorization, body) in cases {
        assert_eq!(s.post(authorization, &body).await, 401, "{name}");
    }
    assert_eq!(s.bot.calls(), 0);
}

#[tokio::test]
async fn a_key_without_the_msteams_endorsement_is_refused() {
    let s = setup().await;
    let webchat_only = s.sandbox.state.teams.publish_key(&["webchat"], false);
    let token = sign(&webchat_only, &s.claims());
    assert_eq!(s.post_token(&token).await, 401);
    // Endorsed for msteams but the activity claims another channel.
    let mut elsewhere = s.activity();
    elsewhere["channelId"] = json!("webchat");
    let genuine = s.token_with(&s.claims());
    assert_eq!(
        s.post(Some(format!("Bearer {genuine}")), &elsewhere).await,
        401
    );
    assert_eq!(s.bot.calls(), 0);
}

#[tokio::test]
async fn an_unknown_kid_is_refetched_once_then_refused() {
    let s = setup().await;
    let genuine = s.token_with(&s.claims());
    assert_eq!(s.post_token(&genuine).await, 200);
    assert_eq!(s.key_fetches(), 1);
    let stranger = PublishedKey {
        key: SigningKey::generate("never-published"),
        endorsements: vec!["msteams".into()],
    };
    let forged = sign(&stranger, &s.claims());
    assert_eq!(s.post_token(&forged).await, 401);
    assert_eq!(s.key_fetches(), 2, "one refetch for the unknown kid");
    assert_eq!(s.post_token(&forged).await, 401);
    assert_eq!(s.key_fetches(), 2, "refetches are rate-limited");
    assert_eq!(s.bot.calls(), 1);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_by_refetching() {
    let s = setup().await;
    assert_eq!(s.post_token(&s.token_with(&s.claims())).await, 200);
    let rotated = s.sandbox.state.teams.publish_key(&["msteams"], true);
    let token = sign(&rotated, &s.claims());
    assert_eq!(s.post_token(&token).await, 200);
    assert_eq!(s.key_fetches(), 2);
    assert_eq!(s.bot.calls(), 2);
}

#[tokio::test]
async fn an_authenticated_body_that_is_not_an_activity_gets_400_without_the_handler() {
    let s = setup().await;
    let genuine = s.token_with(&s.claims());
    let response = s
        .sandbox
        .http
        .post(&s.bot.endpoint)
        .bearer_auth(&genuine)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let mut typeless = s.activity();
    typeless.as_object_mut().unwrap().remove("type");
    assert_eq!(
        s.post(Some(format!("Bearer {genuine}")), &typeless).await,
        400
    );
    assert_eq!(s.bot.calls(), 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_after_the_token_without_the_handler() {
    let sandbox = spawn_sandbox().await;
    let mut settings = auth_settings(&sandbox);
    settings.max_body_bytes = 2048;
    let bot = spawn_bot_with(settings).await;
    let app_id = sandbox.state.world().app.client_id.clone();
    let s = Setup {
        app_id,
        tenant: sandbox.state.tenant_id(),
        service_url: sandbox.url("/teams/"),
        sandbox,
        bot,
    };
    let genuine = s.token_with(&s.claims());
    let mut big = s.activity();
    big["text"] = json!("x".repeat(4096));
    assert_eq!(s.post(Some(format!("Bearer {genuine}")), &big).await, 413);
    // Without a valid token the body is never read: 401, not 413.
    assert_eq!(s.post(None, &big).await, 401);
    assert_eq!(s.post_token(&genuine).await, 200);
    assert_eq!(s.bot.calls(), 1);
}
