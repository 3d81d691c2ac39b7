//! Decisions taken in chat, recorded before they are relayed to Graph.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::approval::Review;
use stagegate_domain::ids::{ObjectId, RequestId, StageId};

use super::{DecisionState, StoreError};
use crate::chat::identity::ChatIdentity;

#[derive(Debug, Clone)]
pub struct DecisionRow {
    pub id: i64,
    pub request_id: String,
    pub stage: i64,
    pub stage_id: String,
    pub approver: String,
    pub identity: ChatIdentity,
    pub review: Review,
    pub justification: String,
    pub state: DecisionState,
}

/// A decision about to be recorded.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub request_id: &'a RequestId,
    pub stage: u8,
    pub stage_id: &'a StageId,
    pub approver: &'a ObjectId,
    pub identity: &'a ChatIdentity,
    pub review: Review,
    pub justification: &'a str,
}

/// Decisions, durable before they are relayed so a crash cannot lose or repeat one.
#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Records a decision durably, before it is relayed. `Conflict` when
    /// the stage already has a live decision (a double click, or another
    /// approver first).
    async fn record_decision(
        &self,
        d: &NewDecision<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    async fn set_decision_state(
        &self,
        id: i64,
        state: DecisionState,
        detail: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The live (recorded, relaying or relayed) decision of a stage.
    async fn live_decision(
        &self,
        request_id: &RequestId,
        stage: u8,
    ) -> Result<Option<DecisionRow>, StoreError>;

    /// Decisions not yet known to have reached Graph (crash recovery).
    async fn unrelayed_decisions(&self) -> Result<Vec<DecisionRow>, StoreError>;

    async fn count_decisions(&self, request_id: &RequestId) -> Result<i64, StoreError>;
}
