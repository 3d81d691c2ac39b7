//! OpenID Connect discovery (`/{tenant}/v2.0/.well-known/openid-configuration`)
//! and the signing keys (`/{tenant}/discovery/v2.0/keys`), in the shape
//! Entra publishes them.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};

use super::error::{EntraError, EntraResult};
use crate::SimState;
use crate::faults::plain_fault;

/// Which directory a `{tenant}` path segment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRef {
    /// The sandbox tenant, by id or by its domain.
    Ours,
    /// `common` / `organizations`: valid authorities, but our app is
    /// single-tenant.
    MultiTenant,
}

/// Resolves the `{tenant}` segment as Entra does: the tenant id (a GUID,
/// any case), one of its domains, or a multi-tenant alias.
pub fn resolve_tenant(state: &SimState, segment: &str) -> EntraResult<TenantRef> {
    if segment.eq_ignore_ascii_case("common") || segment.eq_ignore_ascii_case("organizations") {
        return Ok(TenantRef::MultiTenant);
    }
    if segment.eq_ignore_ascii_case(&state.tenant_id()) {
        return Ok(TenantRef::Ours);
    }
    let domain = state.world().domain.clone();
    if segment.eq_ignore_ascii_case(&domain) {
        return Ok(TenantRef::Ours);
    }
    Err(EntraError::tenant_not_found(segment))
}

/// Like [`resolve_tenant`] but also refuses the multi-tenant aliases, which
/// a single-tenant app cannot sign in through.
pub fn require_our_tenant(state: &SimState, segment: &str) -> EntraResult<()> {
    match resolve_tenant(state, segment)? {
        TenantRef::Ours => Ok(()),
        TenantRef::MultiTenant => {
            let world = state.world();
            Err(EntraError::single_tenant_app_on_common(
                &world.app.client_id,
                &world.app.display_name,
            ))
        }
    }
}

/// How often the discovery document and the keys were served (tests
/// count the bot's fetches with these).
#[derive(Debug, Default)]
pub struct DiscoveryStats {
    pub configuration: AtomicU64,
    pub keys: AtomicU64,
}

impl DiscoveryStats {
    /// (discovery documents, key sets) served so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.configuration.load(Ordering::Relaxed),
            self.keys.load(Ordering::Relaxed),
        )
    }
}

/// The v2.0 issuer of ID tokens and v2 access tokens.
pub fn v2_issuer(state: &SimState) -> String {
    format!("{}/{}/v2.0", state.login_base_url(), state.tenant_id())
}

/// Anyone: the OpenID Provider metadata. For `common`/`organizations` the
/// issuer keeps Entra's `{tenantid}` template.
pub async fn openid_configuration(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let kind = match resolve_tenant(&state, &tenant) {
        Ok(k) => k,
        Err(e) => return e.correlated(&headers).into_response(),
    };
    state
        .entra_discovery
        .configuration
        .fetch_add(1, Ordering::Relaxed);
    let path = format!("/{tenant}/v2.0/.well-known/openid-configuration");
    if let Some(outage) = plain_fault(&state, "login", &path).await {
        return outage;
    }
    let login = state.login_base_url();
    // Endpoints keep the segment the caller used; the issuer always names
    // the tenant id, exactly as Entra answers for a domain-named tenant.
    let issuer = match kind {
        TenantRef::Ours => v2_issuer(&state),
        TenantRef::MultiTenant => format!("{login}/{{tenantid}}/v2.0"),
    };
    let endpoint_tenant = match kind {
        TenantRef::Ours => state.tenant_id(),
        TenantRef::MultiTenant => tenant.to_ascii_lowercase(),
    };
    let base = format!("{login}/{endpoint_tenant}");
    let body = json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{base}/kerberos"),
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    });
    cacheable(body)
}

/// Anyone: the public signing keys (JWKS).
pub async fn keys(
    State(state): State<SimState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let kind = match resolve_tenant(&state, &tenant) {
        Ok(k) => k,
        Err(e) => return e.correlated(&headers).into_response(),
    };
    let issuer = match kind {
        TenantRef::Ours => v2_issuer(&state),
        TenantRef::MultiTenant => format!("{}/{{tenantid}}/v2.0", state.login_base_url()),
    };
    state.entra_discovery.keys.fetch_add(1, Ordering::Relaxed);
    let path = format!("/{tenant}/discovery/v2.0/keys");
    if let Some(outage) = plain_fault(&state, "login", &path).await {
        return outage;
    }
    let keys: Vec<Value> = state
        .entra_keys
        .published()
        .iter()
        .map(|k| k.public_jwk(json!({ "issuer": issuer })))
        .collect();
    cacheable(json!({ "keys": keys }))
}

fn cacheable(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "max-age=86400, private".parse().expect("static header"),
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        "*".parse().expect("static header"),
    );
    response
}
