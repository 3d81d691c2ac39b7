//! Sandbox controls for the emulated sign-in (merged under `/sim`): disable
//! or enable a persona's account, revoke their sessions and refresh
//! tokens, and roll Entra's signing key over. Sandbox only; none of this
//! exists in `serve`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::SimState;

pub fn router() -> Router<SimState> {
    Router::new()
        .route("/personas/{key}/disable", post(disable))
        .route("/personas/{key}/enable", post(enable))
        .route("/personas/{key}/revoke", post(revoke))
        .route("/entra/keys", get(keys))
        .route("/entra/keys/rotate", post(rotate))
}

fn not_found(key: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("no persona `{key}`") })),
    )
        .into_response()
}

fn set_enabled(state: &SimState, key: &str, enabled: bool) -> Response {
    let mut world = state.world();
    let Some(id) = world
        .user_by_key(key)
        .or_else(|| world.user(key))
        .map(|u| u.id.clone())
    else {
        return not_found(key);
    };
    let Some(user) = world.users.get_mut(&id) else {
        return not_found(key);
    };
    user.account_enabled = enabled;
    Json(json!({ "key": user.key, "id": user.id, "accountEnabled": enabled })).into_response()
}

/// Anyone on loopback: `accountEnabled = false`. Sign-ins are refused with
/// AADSTS50057 and so are the user's refresh tokens.
async fn disable(State(state): State<SimState>, Path(key): Path<String>) -> Response {
    set_enabled(&state, &key, false)
}

/// Anyone on loopback: `accountEnabled = true` again.
async fn enable(State(state): State<SimState>, Path(key): Path<String>) -> Response {
    set_enabled(&state, &key, true)
}

/// Anyone on loopback: what Graph's `revokeSignInSessions` does — every
/// refresh token and browser session issued to the persona so far stops
/// working (AADSTS50173); access tokens already issued live on until they
/// expire, as in Entra.
async fn revoke(State(state): State<SimState>, Path(key): Path<String>) -> Response {
    let id = {
        let world = state.world();
        match world.user_by_key(&key).or_else(|| world.user(&key)) {
            Some(u) => u.id.clone(),
            None => return not_found(&key),
        }
    };
    state
        .entra
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .revoke_user(&id);
    Json(json!({ "key": key, "id": id, "revoked": true })).into_response()
}

/// Anyone on loopback: the published key ids (oldest first; the last signs)
/// and how often the discovery document and the keys were fetched.
async fn keys(State(state): State<SimState>) -> Json<serde_json::Value> {
    let (configuration, keys) = state.entra_discovery.get();
    Json(json!({
        "kids": state.entra_keys.kids(),
        "fetches": { "configuration": configuration, "keys": keys },
    }))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Rotate {
    /// Withdraw the previous keys at once (an emergency rollover).
    #[serde(default)]
    emergency: bool,
}

/// Anyone on loopback: Entra rolls its signing key over. Tokens are signed
/// with a new key from now on; the previous keys stay published (the last
/// few) unless `{"emergency": true}`.
async fn rotate(State(state): State<SimState>, body: axum::body::Bytes) -> Response {
    let rotate: Rotate = if body.is_empty() {
        Rotate::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": format!("expected {{\"emergency\": bool}}: {e}") })),
                )
                    .into_response();
            }
        }
    };
    // RSA key generation is slow: off the async workers.
    let keys = state.clone();
    let key = tokio::task::spawn_blocking(move || keys.entra_keys.rotate(rotate.emergency))
        .await
        .expect("key generation does not panic");
    Json(json!({ "kid": key.kid(), "kids": state.entra_keys.kids() })).into_response()
}
