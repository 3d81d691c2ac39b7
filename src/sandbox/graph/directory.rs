//! Emulated Graph: directory (in progress).

use axum::Router;

use crate::sandbox::SimState;

pub fn routes() -> Router<SimState> {
    Router::new()
}
