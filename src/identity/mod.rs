//! People's own identities: account linking and the encrypted token vault.

pub mod discovery;
pub mod link;
pub mod routes;
pub mod vault;
