//! The Bot Framework OpenID metadata and JWKS (what
//! `login.botframework.com/v1/.well-known/…` serves), and the tokens the
//! Bot Connector puts on the activities it sends to the bot
//! (docs/architecture.md, "Teams authentication").
//! `/sim/faults` rules for the service `botframework` (paths relative to
//! `/botframework`, e.g. `/v1/.well-known/*`) make both answer 429/503/504
//! or late: login.botframework.com having an outage.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{CHANNEL_ISSUER, PublishedKey, Stats, TeamsSim};
use crate::SimState;
use crate::faults::plain_fault;

/// Lifetime of channel → bot tokens.
pub const CHANNEL_TOKEN_LIFETIME_SECS: i64 = 3600;

/// The `/botframework` routes.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            "/v1/.well-known/openidconfiguration",
            get(openid_configuration),
        )
        .route("/v1/.well-known/keys", get(keys))
}

/// The metadata document URL the bot is configured with.
pub fn openid_metadata_url(state: &SimState) -> String {
    format!(
        "{}/botframework/v1/.well-known/openidconfiguration",
        state.base_url
    )
}

/// Anyone: the OpenID metadata document, shaped like the one in the Bot
/// Framework authentication docs (a "static URL that you can hardcode").
async fn openid_configuration(State(state): State<SimState>) -> Response {
    Stats::bump(&state.teams.stats.metadata_fetches);
    if let Some(outage) = plain_fault(
        &state,
        "botframework",
        "/v1/.well-known/openidconfiguration",
    )
    .await
    {
        return outage;
    }
    Json(json!({
        "issuer": CHANNEL_ISSUER,
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/botframework/v1/.well-known/keys", state.base_url),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
    .into_response()
}

/// Anyone: the signing keys, each with the extra `endorsements` property
/// naming the channels it may sign for.
async fn keys(State(state): State<SimState>) -> Response {
    Stats::bump(&state.teams.stats.key_fetches);
    if let Some(outage) = plain_fault(&state, "botframework", "/v1/.well-known/keys").await {
        return outage;
    }
    let keys: Vec<Value> = state
        .teams
        .published_keys()
        .iter()
        .map(|k| k.key.public_jwk(json!({ "endorsements": k.endorsements })))
        .collect();
    Json(json!({ "keys": keys })).into_response()
}

/// Claims of a genuine channel → bot token: `iss`, `aud` = the bot's app id,
/// the lowercase `serviceurl` claim, `nbf`/`exp`.
pub fn channel_claims(app_id: &str, service_url: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "serviceurl": service_url,
        "nbf": now,
        "exp": now + CHANNEL_TOKEN_LIFETIME_SECS,
        "iss": CHANNEL_ISSUER,
        "aud": app_id,
    })
}

impl TeamsSim {
    /// A token as the connector signs it for an activity to the bot.
    pub fn channel_token(&self, app_id: &str, service_url: &str) -> String {
        sign(&self.current_key(), &channel_claims(app_id, service_url))
    }
}

/// Signs arbitrary claims with a published key (tests build negative
/// tokens with this: wrong issuer, expired, unendorsed key …).
pub fn sign(key: &PublishedKey, claims: &Value) -> String {
    key.key.sign(claims)
}
