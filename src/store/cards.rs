//! Approval cards: at most one per (request, stage, approver, platform).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::ids::{ObjectId, RequestId};

use super::{CardState, StoreError};
use crate::chat::identity::ChatIdentity;

#[derive(Debug, Clone)]
pub struct CardRow {
    pub approver: ObjectId,
    pub platform: String,
    pub recipient: ChatIdentity,
    pub message_ref: String,
    pub card: String,
    pub state: CardState,
}

/// The cards sent to approvers, so they can be retired when the stage moves on.
#[async_trait]
pub trait CardStore: Send + Sync {
    #[allow(clippy::too_many_arguments)]
    async fn insert_card(
        &self,
        request_id: &RequestId,
        stage: u8,
        approver: &ObjectId,
        recipient: &ChatIdentity,
        message_ref: &str,
        card: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn cards_of(&self, request_id: &RequestId, stage: u8)
    -> Result<Vec<CardRow>, StoreError>;

    async fn retire_card(
        &self,
        request_id: &RequestId,
        stage: u8,
        approver: &ObjectId,
        platform: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
