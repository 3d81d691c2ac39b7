//! The user grants of the token endpoint: redeeming an authorization code
//! and redeeming a refresh token, and the token set both return.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::authorize::Params;
use super::error::{EntraError, EntraResult};
use super::mint::{self, Delegated, SignIn};
use super::scopes::{OIDC_SCOPES, parse_delegated, resolve_graph};
use super::state::{Authn, REFRESH_LIFETIME, RefreshGrant, digest};
use super::token::verifier_matches;
use crate::SimState;

fn other_client() -> EntraError {
    EntraError::bad(
        "invalid_grant",
        70000,
        "The provided authorization grant is invalid: it was issued to a different client.",
    )
}

/// `grant_type=authorization_code`. A code is spent by its first
/// redemption attempt, successful or not: a second attempt (a replay, or a
/// retry after a bad verifier) is refused as already redeemed.
pub(super) fn redeem_code(
    state: &SimState,
    client_id: &str,
    params: &Params,
) -> EntraResult<Value> {
    let code = params
        .get("code")
        .ok_or_else(|| EntraError::missing_parameter("code"))?;
    let redirect_uri = params
        .get("redirect_uri")
        .ok_or_else(|| EntraError::missing_parameter("redirect_uri"))?;
    let (grant, expired, current_epoch) = {
        let mut entra = state.entra.lock().unwrap_or_else(|p| p.into_inner());
        let lifetime = entra.code_lifetime();
        let grant = entra
            .codes
            .get_mut(&digest(code))
            .ok_or_else(EntraError::malformed_grant)?;
        if grant.redeemed {
            return Err(EntraError::bad(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            ));
        }
        grant.redeemed = true;
        let grant = grant.clone();
        let expired = grant.issued.elapsed() >= lifetime;
        let epoch = entra.epoch(&grant.authn.user_id);
        (grant, expired, epoch)
    };
    if expired {
        return Err(EntraError::bad(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !grant.client_id.eq_ignore_ascii_case(client_id) {
        return Err(other_client());
    }
    if grant.redirect_uri != redirect_uri {
        // Entra documents the rule (the same redirect_uri as at /authorize)
        // but not a dedicated code for breaking it; AADSTS70000 is its
        // generic "invalid grant".
        return Err(EntraError::bad(
            "invalid_grant",
            70000,
            "The provided value for the 'redirect_uri' is not valid. The value must exactly match the redirect URI used to obtain the authorization code.",
        ));
    }
    let verified = params
        .get("code_verifier")
        .is_some_and(|v| verifier_matches(v, &grant.code_challenge));
    if !verified {
        return Err(EntraError::bad(
            "invalid_grant",
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        ));
    }
    check_user(state, &grant.authn, current_epoch, None)?;
    issue(
        state,
        client_id,
        &grant.authn,
        &grant.graph_scopes,
        &grant.oidc_scopes,
        grant.nonce.as_deref(),
    )
}

/// `grant_type=refresh_token`. Rotation: every redemption returns a new
/// refresh token. The old one is *not* revoked: Microsoft's refresh-token
/// documentation says the platform "doesn't revoke old refresh tokens when
/// used to fetch new access tokens" and that clients are expected to discard
/// them. Revocation (`/sim/personas/{key}/revoke`, like Graph's
/// `revokeSignInSessions`) ends the whole family at once.
pub(super) fn redeem_refresh_token(
    state: &SimState,
    client_id: &str,
    params: &Params,
) -> EntraResult<Value> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| EntraError::missing_parameter("refresh_token"))?;
    let (grant, epoch, valid_from) = {
        let entra = state.entra.lock().unwrap_or_else(|p| p.into_inner());
        let grant = entra
            .refresh_tokens
            .get(&digest(token))
            .cloned()
            .ok_or_else(EntraError::malformed_grant)?;
        let epoch = entra.epoch(&grant.authn.user_id);
        let valid_from = entra.valid_from(&grant.authn.user_id);
        (grant, epoch, valid_from)
    };
    if !grant.client_id.eq_ignore_ascii_case(client_id) {
        return Err(other_client());
    }
    if grant.issued.elapsed() >= REFRESH_LIFETIME {
        return Err(EntraError::bad(
            "invalid_grant",
            700082,
            format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                grant.issued_at.to_rfc3339()
            ),
        ));
    }
    check_user(state, &grant.authn, epoch, Some((&grant, valid_from)))?;
    let (graph_scopes, oidc) = match params.get("scope") {
        None => (grant.graph_scopes.clone(), grant.oidc_scopes.clone()),
        Some(raw) => {
            let (domain, consented) = {
                let world = state.world();
                (
                    world.domain.clone(),
                    world.app.delegated_permissions.clone(),
                )
            };
            let requested = parse_delegated(raw, &domain)?;
            // Refresh tokens are good for every consented permission, not
            // only the ones first asked for.
            let graph = resolve_graph(&requested, &consented).map_err(|missing| {
                EntraError::bad(
                    "invalid_grant",
                    65001,
                    format!(
                        "The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource. Missing permission: {missing}."
                    ),
                )
            })?;
            let graph = if graph.is_empty() {
                grant.graph_scopes.clone()
            } else {
                graph
            };
            (graph, requested.oidc)
        }
    };
    issue(state, client_id, &grant.authn, &graph_scopes, &oidc, None)
}

/// Refuses grants of disabled users and of revoked sign-ins.
fn check_user(
    state: &SimState,
    authn: &Authn,
    current_epoch: u64,
    refresh: Option<(&RefreshGrant, Option<chrono::DateTime<chrono::Utc>>)>,
) -> EntraResult<()> {
    let enabled = state
        .world()
        .users
        .get(&authn.user_id)
        .is_some_and(|u| u.account_enabled);
    if !enabled {
        return Err(EntraError::user_disabled());
    }
    if authn.epoch != current_epoch {
        let issued = refresh
            .map(|(g, _)| g.issued_at)
            .unwrap_or_else(chrono::Utc::now);
        let valid_from = refresh
            .and_then(|(_, v)| v)
            .unwrap_or_else(chrono::Utc::now);
        return Err(EntraError::grant_revoked(
            &issued.to_rfc3339(),
            &valid_from.to_rfc3339(),
        ));
    }
    Ok(())
}

/// The token response of a user grant: a Graph access token, an ID token
/// when `openid` was asked for, a refresh token when `offline_access` was.
fn issue(
    state: &SimState,
    client_id: &str,
    authn: &Authn,
    graph_scopes: &[String],
    oidc: &[String],
    nonce: Option<&str>,
) -> EntraResult<Value> {
    let has = |s: &str| oidc.iter().any(|o| o == s);
    // With only OpenID scopes Entra still returns a Graph token, for the
    // userinfo endpoint, carrying those scopes.
    let access_scopes: Vec<String> = if graph_scopes.is_empty() {
        oidc.iter()
            .filter(|s| *s != "offline_access")
            .cloned()
            .collect()
    } else {
        graph_scopes.to_vec()
    };
    let sign_in = SignIn {
        mfa: authn.mfa,
        acrs: authn.acrs.clone(),
    };
    let internal = |e: String| EntraError::bad("invalid_grant", 50034, e);
    let (access_token, claims) = mint::delegated_graph_token(
        state,
        &Delegated {
            user_id: &authn.user_id,
            scopes: &access_scopes,
            sign_in: &sign_in,
            auth_time: authn.auth_time,
            client_id,
        },
    )
    .map_err(internal)?;
    let lifetime = claims.exp - claims.iat;
    let mut scope: Vec<String> = graph_scopes.to_vec();
    scope.extend(
        OIDC_SCOPES
            .iter()
            .filter(|s| has(s))
            .map(|s| (*s).to_owned()),
    );
    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("scope".into(), json!(scope.join(" ")));
    body.insert("expires_in".into(), json!(lifetime));
    body.insert("ext_expires_in".into(), json!(lifetime));
    body.insert("access_token".into(), json!(access_token));
    if has("offline_access") {
        let refresh = state
            .entra
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .issue_refresh_token(RefreshGrant {
                client_id: client_id.to_owned(),
                authn: authn.clone(),
                graph_scopes: graph_scopes.to_vec(),
                oidc_scopes: oidc.to_vec(),
                issued: Instant::now(),
                issued_at: chrono::Utc::now(),
            });
        body.insert("refresh_token".into(), json!(refresh));
    }
    if has("openid") {
        let (id_token, _) =
            mint::id_token(state, &authn.user_id, client_id, nonce).map_err(internal)?;
        body.insert("id_token".into(), json!(id_token));
    }
    Ok(Value::Object(body))
}
