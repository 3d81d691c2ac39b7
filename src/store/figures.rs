//! What `/metrics` reads from the store at each scrape, and the one
//! timing the engine needs that only the store knows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use stagegate_domain::ids::RequestId;

use super::StoreError;

/// The figures read at a scrape.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// `(state as Graph last showed it, requests)`.
    pub requests_by_state: Vec<(String, i64)>,
    /// Outbox jobs pending or being sent.
    pub outbox_depth: i64,
    /// When the oldest of those was queued.
    pub outbox_oldest: Option<DateTime<Utc>>,
    /// `(watched group id, expiry as Graph last confirmed it)`.
    pub subscriptions: Vec<(String, DateTime<Utc>)>,
}

#[async_trait]
pub trait FiguresStore: Send + Sync {
    async fn figures(&self) -> Result<Figures, StoreError>;

    /// When the bot first recorded `request`, if the card just recorded
    /// for it is its first (so the delay to it is counted once).
    async fn first_card_of(&self, request: &RequestId)
    -> Result<Option<DateTime<Utc>>, StoreError>;
}
