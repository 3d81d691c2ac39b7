//! `POST /{tenant}/oauth2/v2.0/token`: client credentials, authorization
//! code (+ PKCE) and refresh token grants, with Entra's error bodies.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::authorize::Params;
use super::discovery::require_our_tenant;
use super::error::{EntraError, EntraResult};
use super::grants::{redeem_code, redeem_refresh_token};
use super::mint;
use super::scopes::BOTFRAMEWORK_RESOURCE;
use crate::SimState;
use crate::tokens::{GRAPH_APP_ID, GRAPH_AUDIENCE};

/// The app (any caller holding its client credentials): exchanges a grant
/// for tokens. Client authentication by `client_secret` in the body or HTTP
/// Basic is checked before the grant is looked at.
pub async fn token(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&state, &tenant, &headers, &body) {
        Ok(body) => {
            {
                let mut entra = state.entra.lock().unwrap_or_else(|p| p.into_inner());
                for key in ["access_token", "refresh_token", "id_token"] {
                    if let Some(credential) = body.get(key).and_then(Value::as_str) {
                        entra.record_issued(credential);
                    }
                }
            }
            let mut response = (StatusCode::OK, Json(body)).into_response();
            let h = response.headers_mut();
            h.insert(
                header::CACHE_CONTROL,
                "no-store, no-cache".parse().expect("static header"),
            );
            h.insert(header::PRAGMA, "no-cache".parse().expect("static header"));
            response
        }
        Err(e) => e.correlated(&headers).into_response(),
    }
}

fn handle(state: &SimState, tenant: &str, headers: &HeaderMap, body: &Bytes) -> EntraResult<Value> {
    require_our_tenant(state, tenant)?;
    let text = std::str::from_utf8(body).map_err(|_| {
        EntraError::bad("invalid_request", 90004, "The request isn't properly formatted: the body must be application/x-www-form-urlencoded.")
    })?;
    let params = Params::parse(text);
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
    let client_id = authenticate_client(state, &params, headers)?;
    match grant_type {
        "client_credentials" => client_credentials(state, &params),
        "authorization_code" => redeem_code(state, &client_id, &params),
        "refresh_token" => redeem_refresh_token(state, &client_id, &params),
        other => Err(EntraError::bad(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// Checks the client id and secret (body or Basic) and returns the id.
fn authenticate_client(
    state: &SimState,
    params: &Params,
    headers: &HeaderMap,
) -> EntraResult<String> {
    let basic = basic_credentials(headers)?;
    let body_id = params.get("client_id");
    let (client_id, secret) = match (&basic, body_id) {
        (Some((id, _)), Some(b)) if id != b => {
            return Err(EntraError::bad(
                "invalid_request",
                90023,
                "The client_id in the request body does not match the one in the Authorization header.",
            ));
        }
        (Some((id, secret)), _) => (id.clone(), Some(secret.clone())),
        (None, Some(id)) => (
            id.to_owned(),
            params.get("client_secret").map(str::to_owned),
        ),
        (None, None) => return Err(EntraError::missing_parameter("client_id")),
    };
    let (expected_id, expected_secret) = {
        let world = state.world();
        (world.app.client_id.clone(), world.app.client_secret.clone())
    };
    if !client_id.eq_ignore_ascii_case(&expected_id) {
        return Err(EntraError::unknown_client(&client_id, &state.tenant_id()));
    }
    let Some(secret) = secret else {
        return Err(EntraError::missing_client_secret());
    };
    if !bool::from(secret.as_bytes().ct_eq(expected_secret.as_bytes())) {
        return Err(EntraError::wrong_client_secret(&expected_id));
    }
    Ok(expected_id)
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`
/// (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> EntraResult<Option<(String, String)>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || {
        EntraError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "The Authorization header is not valid HTTP Basic client authentication.",
        )
    };
    let value = value.to_str().map_err(|_| malformed())?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(malformed());
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The app's own tokens: one resource, always `{resource}/.default`.
fn client_credentials(state: &SimState, params: &Params) -> EntraResult<Value> {
    let scope = params
        .get("scope")
        .ok_or_else(|| EntraError::missing_parameter("scope"))?;
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [single] = scopes.as_slice() else {
        return Err(EntraError::invalid_scope(scope));
    };
    let Some(resource) = single.strip_suffix("/.default") else {
        return Err(EntraError::bad(
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {single} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    let resource = resource.trim_end_matches('/');
    let (token, claims) = if resource.eq_ignore_ascii_case(GRAPH_AUDIENCE)
        || resource.eq_ignore_ascii_case(GRAPH_APP_ID)
    {
        mint::app_graph_token(state)
    } else if resource.eq_ignore_ascii_case(BOTFRAMEWORK_RESOURCE) {
        mint::botframework_app_token(state)
    } else {
        let domain = state.world().domain.clone();
        return Err(EntraError::unknown_resource(resource, &domain));
    };
    let lifetime = claims.exp - claims.iat;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }))
}

/// RFC 7636 S256: `BASE64URL(SHA256(verifier)) == challenge`, with the
/// verifier's length and alphabet checked first.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}
