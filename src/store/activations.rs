//! Activations made through the bot.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::ids::{ObjectId, RequestId};

use super::{ActivationState, StoreError};

#[derive(Debug, Clone)]
pub struct InterruptedActivation {
    pub request_id: RequestId,
    pub requester: ObjectId,
    pub group_id: ObjectId,
    pub duration: String,
    /// When the activation was about to call PIM.
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ActivationRow {
    pub request_id: String,
    pub state: ActivationState,
    pub duration: String,
    pub active_until: Option<DateTime<Utc>>,
}

/// Activations, kept so a crash mid-call to PIM is noticed and explained.
#[async_trait]
pub trait ActivationStore: Send + Sync {
    // ---- activations
    #[allow(clippy::too_many_arguments)]
    async fn upsert_activation(
        &self,
        request_id: &RequestId,
        requester: &ObjectId,
        group_id: &ObjectId,
        duration: &str,
        state: ActivationState,
        schedule_request_id: Option<&str>,
        active_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Activations recorded as `requesting` (about to call PIM) before
    /// `before`: a process that died before PIM's answer left them so.
    async fn activations_requesting_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<InterruptedActivation>, StoreError>;

    async fn activation(&self, request_id: &RequestId)
    -> Result<Option<ActivationRow>, StoreError>;

    /// The latest activation through the bot of `requester` in `group`.
    async fn activation_of(
        &self,
        requester: &ObjectId,
        group: &ObjectId,
    ) -> Result<Option<ActivationRow>, StoreError>;
}
