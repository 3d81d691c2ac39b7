//! People's own identities: account linking, the sign-in pages, and the
//! encrypted token vault with its upkeep.

pub mod link;
pub mod routes;
pub mod upkeep;
pub mod vault;
