//! Microsoft Graph client: app and delegated tokens, retries honouring
//! `Retry-After`, typed errors. Typed request/response models per endpoint
//! are added with the engine.

pub mod client;
pub mod error;
pub mod token;

pub use client::{Auth, GraphClient, RetryPolicy};
pub use error::GraphError;
pub use token::AppTokenSource;
