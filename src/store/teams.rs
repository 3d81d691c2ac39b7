//! Teams conversation references (where a person or the security channel
//! can be reached proactively).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    /// A person's 1:1 chat with the bot; the subject is their object id.
    Person,
    /// The channel the bot was added to in a team.
    Channel,
}

impl ConversationKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Channel => "channel",
        }
    }
}

/// A stored reference: `(service_url, conversation_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConversation {
    pub service_url: String,
    pub conversation_id: String,
}

/// Conversation references, by tenant, kind and subject (case-insensitive).
#[async_trait]
pub trait TeamsConversationStore: Send + Sync {
    async fn upsert_teams_conversation(
        &self,
        tenant: &str,
        kind: ConversationKind,
        subject: &str,
        at: &StoredConversation,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn teams_conversation(
        &self,
        tenant: &str,
        kind: ConversationKind,
        subject: &str,
    ) -> Result<Option<StoredConversation>, StoreError>;

    /// Forgets a reference Teams no longer knows (404 on send).
    async fn delete_teams_conversation(
        &self,
        tenant: &str,
        kind: ConversationKind,
        subject: &str,
    ) -> Result<(), StoreError>;
}
