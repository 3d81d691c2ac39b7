//! Emulated Microsoft Entra sign-in (`/login/{tenant}/…` on the sim port):
//! OpenID discovery and keys, the authorize endpoint with its sign-in pages
//! (persona picker, MFA, consent), and the token endpoint.

pub mod authorize;
pub mod discovery;
pub mod error;
mod grants;
pub mod mint;
mod pages;
pub mod request;
pub mod scopes;
mod signin;
pub mod sim;
pub mod state;
pub mod token;

use axum::Router;
use axum::routing::{get, post};

pub use state::EntraState;

use super::SimState;

/// The `/login` routes. Nested under `/login` by the sandbox router.
pub fn router() -> Router<SimState> {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys))
        .route("/{tenant}/oauth2/v2.0/authorize", get(authorize::authorize))
        .route(
            "/{tenant}/oauth2/v2.0/authorize/signin",
            post(signin::signin),
        )
        .route("/{tenant}/oauth2/v2.0/authorize/mfa", post(signin::mfa))
        .route(
            "/{tenant}/oauth2/v2.0/authorize/consent",
            post(signin::consent),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
}
