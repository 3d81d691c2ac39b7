//! Account links, link tokens and sign-in flows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::chat::identity::ChatIdentity;

#[derive(Debug, Clone)]
pub struct LinkRow {
    pub identity: ChatIdentity,
    pub object_id: String,
    pub display_name: String,
    pub refresh_token: Vec<u8>,
    pub key_id: String,
    /// Which associated data sealed the token (see the vault).
    pub aad_version: i64,
}

/// A consumed link token or sign-in flow.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub identity: ChatIdentity,
    pub claims: Option<String>,
    pub resume: Option<String>,
    /// Only for flows: the sealed PKCE verifier and the nonce.
    pub code_verifier: Vec<u8>,
    pub nonce: String,
    /// Only for flows: SHA-256 of the cookie set in the browser that
    /// started the flow.
    pub browser_hash: String,
}

/// Links between chat identities and Entra users, and the sign-ins that make them.
#[async_trait]
pub trait LinkStore: Send + Sync {
    async fn insert_link_token(
        &self,
        token_hash: &str,
        who: &ChatIdentity,
        claims: Option<&str>,
        resume: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Reuses the live (unused, unexpired) link token of `who` for
    /// `purpose` with the same `claims`, replacing its `resume` and
    /// counting the reuse: `Some(the resume it had)`. Without one, stores
    /// `token_hash` as [`Self::insert_link_token`] does: `None`. One
    /// transaction that starts with a write, so concurrent callers (and
    /// replicas) cannot both mint.
    #[allow(clippy::too_many_arguments)]
    async fn claim_link_token(
        &self,
        token_hash: &str,
        who: &ChatIdentity,
        purpose: &str,
        claims: Option<&str>,
        resume: Option<&str>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<String>>, StoreError>;

    /// Voids a link token whose prompt never reached its person, so the
    /// next click mints one instead of pointing at a link never sent.
    async fn void_link_token(&self, token_hash: &str) -> Result<(), StoreError>;

    /// How many link tokens of `who` are unused and unexpired; for tests.
    async fn live_link_tokens(
        &self,
        who: &ChatIdentity,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Marks the token used and returns it, if it exists, is unused and unexpired.
    async fn consume_link_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignIn>, StoreError>;

    /// The chat identity a link token is for, if it exists, is unused and
    /// unexpired, without using it (the confirmation page reads it; link
    /// scanners that fetch the page do not burn the link).
    async fn peek_link_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatIdentity>, StoreError>;

    async fn insert_auth_flow(
        &self,
        state_hash: &str,
        flow: &PendingSignIn,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn consume_auth_flow(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignIn>, StoreError>;

    async fn upsert_link(&self, link: &LinkRow, now: DateTime<Utc>) -> Result<(), StoreError>;

    async fn link(&self, who: &ChatIdentity) -> Result<Option<LinkRow>, StoreError>;

    /// Replaces the stored refresh token after a rotation.
    async fn update_refresh_token(
        &self,
        who: &ChatIdentity,
        sealed: &[u8],
        key_id: &str,
        aad_version: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Removes the link, its stored token and every route to the person
    /// through this chat identity (the `people` row the engine reaches
    /// them by); true if there was a link.
    async fn delete_link(&self, who: &ChatIdentity) -> Result<bool, StoreError>;

    /// Records a completed multifactor sign-in of a linked person.
    async fn set_mfa_at(&self, who: &ChatIdentity, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// When the linked person last completed MFA, if ever (since linking).
    async fn mfa_at(&self, who: &ChatIdentity) -> Result<Option<DateTime<Utc>>, StoreError>;
}
