//! Minting the tokens the emulated Entra issues. Used by the token endpoint,
//! by `/sim/tokens`, and by tests that need to act as a persona in Graph.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::discovery::v2_issuer;
use super::scopes::BOTFRAMEWORK_RESOURCE;
use crate::SimState;
use crate::tokens::{AccessClaims, GRAPH_AUDIENCE, IdClaims, v1_issuer};

/// Lifetime of access tokens (Entra's default is 60–90 minutes).
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;

/// How the person authenticated in the (emulated) sign-in.
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    pub mfa: bool,
    /// Authentication context class references satisfied (`c1` …).
    pub acrs: Vec<String>,
}

/// A delegated Graph access token for `user_id` with `scopes`, issued to
/// the tenant's app as if the person had just signed in.
pub fn user_graph_token(
    state: &SimState,
    user_id: &str,
    scopes: &[String],
    sign_in: &SignIn,
) -> Result<(String, AccessClaims), String> {
    let client_id = state.world().app.client_id.clone();
    delegated_graph_token(
        state,
        &Delegated {
            user_id,
            scopes,
            sign_in,
            auth_time: Utc::now().timestamp(),
            client_id: &client_id,
        },
    )
}

/// Everything a delegated token records about its sign-in.
#[derive(Debug, Clone, Copy)]
pub struct Delegated<'a> {
    pub user_id: &'a str,
    pub scopes: &'a [String],
    pub sign_in: &'a SignIn,
    /// Unix seconds of the interactive sign-in (kept across refreshes).
    pub auth_time: i64,
    pub client_id: &'a str,
}

/// A delegated Graph access token (v1.0 format, which Graph accepts).
pub fn delegated_graph_token(
    state: &SimState,
    grant: &Delegated<'_>,
) -> Result<(String, AccessClaims), String> {
    let world = state.world();
    let user = world
        .users
        .get(grant.user_id)
        .ok_or_else(|| format!("no user with id {}", grant.user_id))?;
    let now = Utc::now().timestamp();
    let mut amr = vec!["pwd".to_owned()];
    if grant.sign_in.mfa {
        amr.push("mfa".into());
    }
    let claims = AccessClaims {
        aud: GRAPH_AUDIENCE.into(),
        iss: v1_issuer(&world.tenant_id),
        tid: world.tenant_id.clone(),
        oid: user.id.clone(),
        sub: format!("sub-{}", user.id),
        scp: Some(grant.scopes.join(" ")),
        roles: None,
        amr,
        acrs: (!grant.sign_in.acrs.is_empty()).then(|| grant.sign_in.acrs.clone()),
        auth_time: Some(grant.auth_time),
        appid: Some(grant.client_id.to_owned()),
        azp: None,
        idtyp: "user".into(),
        name: Some(user.display_name.clone()),
        upn: Some(user.user_principal_name.clone()),
        ver: "1.0".into(),
        uti: uuid::Uuid::new_v4().simple().to_string(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME_SECS,
    };
    drop(world);
    Ok((state.entra_key().sign(&claims), claims))
}

/// A v2.0 ID token for `client_id`. `sub` is pairwise (per app), as Entra's
/// is; `oid` is the stable object id.
pub fn id_token(
    state: &SimState,
    user_id: &str,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<(String, IdClaims), String> {
    let world = state.world();
    let user = world
        .users
        .get(user_id)
        .ok_or_else(|| format!("no user with id {user_id}"))?;
    let now = Utc::now().timestamp();
    let pairwise = Sha256::digest(format!("{client_id}:{}", user.id).as_bytes());
    let claims = IdClaims {
        aud: client_id.to_owned(),
        iss: v2_issuer(state),
        tid: world.tenant_id.clone(),
        oid: user.id.clone(),
        sub: URL_SAFE_NO_PAD.encode(pairwise),
        nonce: nonce.map(str::to_owned),
        name: user.display_name.clone(),
        preferred_username: user.user_principal_name.clone(),
        amr: vec![],
        ver: "2.0".into(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME_SECS,
    };
    drop(world);
    Ok((state.entra_key().sign(&claims), claims))
}

/// An app-only token for the Bot Connector (`aud` = the Bot Framework), in
/// v2.0 format: `azp` names the app, `iss` is the tenant's v2.0 issuer.
pub fn botframework_app_token(state: &SimState) -> (String, AccessClaims) {
    let world = state.world();
    let now = Utc::now().timestamp();
    let claims = AccessClaims {
        aud: BOTFRAMEWORK_RESOURCE.into(),
        iss: v2_issuer(state),
        tid: world.tenant_id.clone(),
        oid: world.app.service_principal_id.clone(),
        sub: world.app.service_principal_id.clone(),
        scp: None,
        roles: None,
        amr: vec![],
        acrs: None,
        auth_time: None,
        appid: None,
        azp: Some(world.app.client_id.clone()),
        idtyp: "app".into(),
        name: None,
        upn: None,
        ver: "2.0".into(),
        uti: uuid::Uuid::new_v4().simple().to_string(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME_SECS,
    };
    drop(world);
    (state.entra_key().sign(&claims), claims)
}

/// An application Graph access token carrying the app's granted `roles`.
pub fn app_graph_token(state: &SimState) -> (String, AccessClaims) {
    let world = state.world();
    let now = Utc::now().timestamp();
    let claims = AccessClaims {
        aud: GRAPH_AUDIENCE.into(),
        iss: v1_issuer(&world.tenant_id),
        tid: world.tenant_id.clone(),
        oid: world.app.service_principal_id.clone(),
        sub: world.app.service_principal_id.clone(),
        scp: None,
        roles: Some(world.app.application_permissions.clone()),
        amr: vec![],
        acrs: None,
        auth_time: None,
        appid: Some(world.app.client_id.clone()),
        azp: None,
        idtyp: "app".into(),
        name: None,
        upn: None,
        ver: "1.0".into(),
        uti: uuid::Uuid::new_v4().simple().to_string(),
        iat: now,
        nbf: now,
        exp: now + ACCESS_TOKEN_LIFETIME_SECS,
    };
    drop(world);
    (state.entra_key().sign(&claims), claims)
}
