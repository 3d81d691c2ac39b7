//! Minting the tokens the emulated Entra issues. Used by the token endpoint,
//! by `/sim/tokens`, and by tests that need to act as a persona in Graph.

use chrono::Utc;

use crate::sandbox::SimState;
use crate::sandbox::tokens::{AccessClaims, GRAPH_AUDIENCE, v1_issuer};

/// Lifetime of access tokens (Entra's default is 60–90 minutes).
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 3600;

/// How the person authenticated in the (emulated) sign-in.
#[derive(Debug, Clone, Default)]
pub struct SignIn {
    pub mfa: bool,
    /// Authentication context class references satisfied (`c1` …).
    pub acrs: Vec<String>,
}

/// A delegated Graph access token for `user_id` with `scopes`.
pub fn user_graph_token(
    state: &SimState,
    user_id: &str,
    scopes: &[String],
    sign_in: &SignIn,
) -> Result<(String, AccessClaims), String> {
    let world = state.world();
    let user = world
        .users
        .get(user_id)
        .ok_or_else(|| format!("no user with id {user_id}"))?;
    let now = Utc::now().timestamp();
    let mut amr = vec!["pwd".to_owned()];
    if sign_in.mfa {
        amr.push("mfa".into());
    }
    let claims = AccessClaims {
        aud: GRAPH_AUDIENCE.into(),
        iss: v1_issuer(&world.tenant_id),
        tid: world.tenant_id.clone(),
        oid: user.id.clone(),
        sub: format!("sub-{}", user.id),
        scp: Some(scopes.join(" ")),
        roles: None,
        amr,
        acrs: (!sign_in.acrs.is_empty()).then(|| sign_in.acrs.clone()),
        auth_time: Some(now),
        appid: Some(world.app.client_id.clone()),
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
