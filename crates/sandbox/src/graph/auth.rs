//! Who is calling the emulated Graph, and whether they may.
//!
//! [`Caller`] is an extractor: it verifies the bearer token the emulated
//! Entra issued (signature, issuer, audience, lifetime) before any handler
//! runs. [`Permission`] states what an operation accepts, per the table in
//! docs/architecture.md, "Graph permissions"; `caller.require(&P)` enforces
//! it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, Validation};

use super::error::GraphError;
use crate::SimState;
use crate::tokens::{AccessClaims, GRAPH_APP_ID, GRAPH_AUDIENCE, v1_issuer};

/// The authenticated principal behind a Graph call.
#[derive(Debug, Clone)]
pub struct Caller {
    pub claims: AccessClaims,
}

/// What an operation accepts. `application: None` = delegated-only.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub delegated: &'static [&'static str],
    pub application: Option<&'static [&'static str]>,
}

impl Caller {
    pub fn is_app(&self) -> bool {
        self.claims.is_app()
    }

    /// The signed-in user's object id; `None` for app-only tokens.
    pub fn user_id(&self) -> Option<&str> {
        (!self.is_app()).then_some(self.claims.oid.as_str())
    }

    /// The calling principal's id (user, or the app's service principal).
    pub fn principal_id(&self) -> &str {
        &self.claims.oid
    }

    pub fn app_id(&self) -> &str {
        self.claims
            .appid
            .as_deref()
            .or(self.claims.azp.as_deref())
            .unwrap_or_default()
    }

    /// Refuses the call unless the token carries one of the permissions the
    /// operation accepts for its kind (delegated `scp` or application `roles`).
    pub fn require(&self, permission: &Permission) -> Result<(), GraphError> {
        let granted = if self.is_app() {
            let Some(accepted) = permission.application else {
                return Err(GraphError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "Authorization_RequestDenied",
                    "This operation is not supported with application permissions; it requires a signed-in user (delegated permissions).",
                ));
            };
            let roles = self.claims.roles.as_deref().unwrap_or_default();
            accepted.iter().any(|p| roles.iter().any(|r| r == p))
        } else {
            let scopes = self.claims.scopes();
            permission.delegated.iter().any(|p| scopes.contains(p))
        };
        if granted {
            Ok(())
        } else {
            Err(GraphError::request_denied())
        }
    }

    /// Refuses app-only callers (for `filterByCurrentUser`, `/me` …).
    pub fn require_user(&self) -> Result<&str, GraphError> {
        self.user_id().ok_or_else(|| {
            GraphError::bad_request("/me request is only valid with delegated authentication flow.")
        })
    }
}

impl FromRequestParts<SimState> for Caller {
    type Rejection = GraphError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SimState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                GraphError::unauthenticated("Access token is empty.")
                    .with_header("WWW-Authenticate", "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                GraphError::unauthenticated("Access token validation failure. Invalid audience.")
            })?;
        let tenant = state.tenant_id();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[GRAPH_AUDIENCE, GRAPH_APP_ID]);
        validation.set_issuer(&[v1_issuer(&tenant)]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        let claims: AccessClaims = state.entra_keys.verify(token, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                    GraphError::unauthenticated("Lifetime validation failed, the token is expired.")
                }
                ErrorKind::InvalidAudience => GraphError::unauthenticated(
                    "Access token validation failure. Invalid audience.",
                ),
                _ => GraphError::unauthenticated("Access token validation failure."),
            }
        })?;
        if claims.tid != tenant {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid tenant.",
            ));
        }
        Ok(Caller { claims })
    }
}
