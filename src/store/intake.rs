//! Graph subscriptions kept alive by the intake.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::ids::ObjectId;

use super::StoreError;

/// One watched group's subscription, as stagegate last saw it in Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    pub group_id: String,
    pub subscription_id: String,
    pub expires_at: DateTime<Utc>,
    /// SHA-256 (hex) of the `clientState` it was created with, so a rotated
    /// secret is noticed and the subscription recreated.
    pub client_state_hash: String,
    pub notification_url: String,
}

/// One subscription per watched group.
#[async_trait]
pub trait IntakeStore: Send + Sync {
    async fn intake_subscription(
        &self,
        group_id: &ObjectId,
    ) -> Result<Option<SubscriptionRow>, StoreError>;

    async fn intake_subscription_by_id(
        &self,
        subscription_id: &str,
    ) -> Result<Option<SubscriptionRow>, StoreError>;

    /// Records a newly created subscription, replacing the group's old one.
    async fn put_intake_subscription(
        &self,
        row: &SubscriptionRow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Records a renewal Graph confirmed.
    async fn renew_intake_subscription(
        &self,
        subscription_id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn delete_intake_subscription(&self, group_id: &ObjectId) -> Result<(), StoreError>;
}
