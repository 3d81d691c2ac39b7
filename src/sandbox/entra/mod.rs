//! Emulated Microsoft Entra sign-in (`/login/{tenant}/…` on the sim port).

pub mod mint;

use axum::Router;

use super::SimState;

/// The `/login` routes. Nested under `/login` by the sandbox router.
pub fn router() -> Router<SimState> {
    Router::new()
}

/// Entra's mutable state: issued authorization codes and refresh tokens.
#[derive(Debug, Default)]
pub struct EntraState {}
