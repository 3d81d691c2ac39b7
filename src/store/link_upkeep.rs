//! Upkeep of the identity tables: purging spent sign-in state, and the
//! rows the vault must re-seal (another key, older associated data).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use super::links::LinkRow;

/// How many rows a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub link_tokens: u64,
    pub auth_flows: u64,
}

/// What the identity upkeep task needs beyond [`super::links::LinkStore`].
#[async_trait]
pub trait LinkUpkeepStore: Send + Sync {
    /// Deletes link tokens and sign-in flows that expired before `now`,
    /// used or not: neither can be redeemed any more.
    async fn purge_sign_ins(&self, now: DateTime<Utc>) -> Result<Purged, StoreError>;

    /// Links whose token was sealed with another key than `primary_key_id`
    /// or with associated data older than `aad_version`.
    async fn links_to_reseal(
        &self,
        primary_key_id: &str,
        aad_version: i64,
    ) -> Result<Vec<LinkRow>, StoreError>;

    /// Replaces a link's sealed token with `sealed`, unless the token
    /// changed since it was read (a rotation won the race); true if
    /// replaced.
    async fn reseal_link(
        &self,
        old: &LinkRow,
        sealed: &[u8],
        key_id: &str,
        aad_version: i64,
    ) -> Result<bool, StoreError>;
}
