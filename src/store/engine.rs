//! Requests the engine tracks and the people it reaches them through.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::approval::RequestState;
use stagegate_domain::ids::{ObjectId, RequestId};

use super::StoreError;
use crate::chat::identity::ChatIdentity;

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: RequestId,
    pub requester: ObjectId,
    pub alias: Option<String>,
    pub ticket: Option<String>,
    pub justification: Option<String>,
    /// As Graph last showed it.
    pub state: RequestState,
}

/// Requests and people, and what was already done for a request.
#[async_trait]
pub trait RequestStore: Send + Sync {
    // ---- requests
    /// Records a request submitted through the bot (alias and ticket as typed).
    async fn insert_request(&self, row: &RequestRow, now: DateTime<Utc>) -> Result<(), StoreError>;

    async fn request_row(&self, id: &RequestId) -> Result<Option<RequestRow>, StoreError>;

    /// The most recent delivered request of `requester` for any of `aliases`
    /// (the approval that explains their membership of a privileged group).
    async fn delivered_request_of(
        &self,
        requester: &ObjectId,
        aliases: &[String],
    ) -> Result<Option<RequestId>, StoreError>;

    /// Requests the engine knows that were last seen in one of `states`.
    async fn requests_in(&self, states: &[RequestState]) -> Result<Vec<RequestId>, StoreError>;

    // ---- people
    async fn upsert_person(
        &self,
        who: &ChatIdentity,
        object_id: &ObjectId,
        display_name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The Entra user behind a chat identity, if known.
    async fn person(&self, who: &ChatIdentity) -> Result<Option<String>, StoreError>;

    /// The name a chat identity was last seen with, if known.
    async fn person_name(&self, who: &ChatIdentity) -> Result<Option<String>, StoreError>;

    /// Every chat identity through which a user can be reached.
    async fn identities_of(&self, object_id: &ObjectId) -> Result<Vec<ChatIdentity>, StoreError>;

    /// Chat identities with a completed link acting as `object_id`.
    async fn linked_identities_of(
        &self,
        object_id: &ObjectId,
    ) -> Result<Vec<ChatIdentity>, StoreError>;

    // ---- outbox
    /// Keys of everything done (queued) for a request, and of its live
    /// chat decisions: the planner's `done`.
    async fn done_keys(&self, request_id: &RequestId) -> Result<BTreeSet<String>, StoreError>;
}
