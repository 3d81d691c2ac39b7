//! Where people's 1:1 chats and the captured security channel are: kept in
//! memory and in the store, so a restart does not lose who can be reached.

use super::{CAPTURED_CHANNEL, ConversationRef, TeamsPort};
use crate::store::teams::{ConversationKind, StoredConversation};

impl TeamsPort {
    /// Remembers a person's 1:1 conversation (from an authenticated
    /// activity in it, or one the bot created), durably.
    pub async fn remember_person(&self, object_id: &str, at: ConversationRef) {
        let key = object_id.to_ascii_lowercase();
        let changed = self.memory().people.insert(key.clone(), at.clone()) != Some(at.clone());
        if changed {
            self.persist(ConversationKind::Person, &key, &at).await;
        }
    }

    /// Remembers the channel the bot was added to (the security channel
    /// unless one is configured), durably.
    pub async fn remember_channel(&self, at: ConversationRef) {
        self.memory().captured_channel = Some(at.clone());
        self.persist(ConversationKind::Channel, CAPTURED_CHANNEL, &at)
            .await;
    }

    pub(super) async fn persist(
        &self,
        kind: ConversationKind,
        subject: &str,
        at: &ConversationRef,
    ) {
        let stored = StoredConversation {
            service_url: at.service_url.clone(),
            conversation_id: at.conversation_id.clone(),
        };
        if let Err(e) = self
            .store
            .upsert_teams_conversation(&self.tenant_id, kind, subject, &stored, chrono::Utc::now())
            .await
        {
            // The in-memory copy still serves until a restart.
            tracing::warn!(error = %e, "cannot store a Teams conversation reference");
        }
    }

    /// A stored reference, from the cache or the database.
    pub(super) async fn recall(
        &self,
        kind: ConversationKind,
        subject: &str,
    ) -> Option<ConversationRef> {
        let cached = match kind {
            ConversationKind::Person => self.memory().people.get(subject).cloned(),
            ConversationKind::Channel => self.memory().captured_channel.clone(),
        };
        if cached.is_some() {
            return cached;
        }
        let stored = self
            .store
            .teams_conversation(&self.tenant_id, kind, subject)
            .await
            .map_err(|e| tracing::warn!(error = %e, "cannot read a Teams conversation reference"))
            .ok()??;
        // Stored only from authenticated activities or conversations the
        // bot created, so its serviceUrl is as trusted as when it was seen.
        let service_url = self
            .allowlist
            .learn(&stored.service_url)
            .map_err(|e| tracing::warn!(error = %e, "stored Teams serviceUrl is malformed"))
            .ok()?;
        let at = ConversationRef {
            service_url: service_url.as_str().to_owned(),
            conversation_id: stored.conversation_id,
        };
        let mut memory = self.memory();
        match kind {
            ConversationKind::Person => {
                memory.people.insert(subject.to_owned(), at.clone());
            }
            ConversationKind::Channel => memory.captured_channel = Some(at.clone()),
        }
        Some(at)
    }
}
