//! The bot's Slack DM channels, by workspace and user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;

/// DM channels opened once and reused.
#[async_trait]
pub trait SlackDmStore: Send + Sync {
    /// Remembers the bot's DM channel with `user` in `team`.
    async fn upsert_slack_dm(
        &self,
        team: &str,
        user: &str,
        channel: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The bot's DM channel with `user` in `team`, if one was opened.
    async fn slack_dm(&self, team: &str, user: &str) -> Result<Option<String>, StoreError>;

    /// Forgets a DM channel Slack no longer knows.
    async fn forget_slack_dm(&self, team: &str, user: &str) -> Result<(), StoreError>;
}
