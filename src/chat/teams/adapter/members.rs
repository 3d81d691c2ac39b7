//! Who an approval card's `refresh` runs for: the Teams user ids (`29:…`,
//! never Entra object ids) of the people in the card's conversation. A
//! person's id is learnt from their own authenticated activities, else
//! asked of the Bot Connector once (`GET …/members`); a 1:1 chat has one.

use serde_json::Value;

use super::super::cards::{self, MAX_REFRESH_USERS};
use super::{ConversationRef, TeamsPort};
use crate::chat::port::Message;

impl TeamsPort {
    /// Remembers that `user_id` (the Teams user id of an authenticated
    /// activity from `object_id`) is the person of the 1:1 chat
    /// `conversation_id`, when that chat is the one on file for them.
    pub fn remember_member(&self, object_id: &str, conversation_id: &str, user_id: &str) {
        if !user_id.starts_with("29:") {
            return;
        }
        let mut memory = self.memory();
        let theirs = memory
            .people
            .get(&object_id.to_ascii_lowercase())
            .is_some_and(|c| c.conversation_id == conversation_id);
        if !theirs {
            return;
        }
        // Bounded like `sent`: only chats that get cards matter.
        if memory.members.len() > 10_000 {
            memory.members.clear();
        }
        memory
            .members
            .insert(conversation_id.to_owned(), vec![user_id.to_owned()]);
    }

    /// The card for `message` in `conversation_id`, with the refresh users
    /// known there (none asked for).
    pub fn render_known(&self, conversation_id: &str, message: &Message) -> Value {
        let users = self.memory().members.get(conversation_id).cloned();
        cards::render_for(message, users.as_deref())
    }

    /// The card for `message` in `conversation`: an approval card's
    /// refresh names its people, asked of the Bot Connector if unknown.
    pub(super) async fn card_in(&self, conversation: &ConversationRef, message: &Message) -> Value {
        if !matches!(message, Message::ApprovalRequest { .. }) {
            return cards::render(message);
        }
        let users = self.members_of(conversation).await;
        cards::render_for(message, users.as_deref())
    }

    /// The Teams user ids of `conversation`'s people (at most 60), or
    /// `None` when the Bot Connector cannot say: the card then names
    /// nobody, which Teams reads as everyone in a chat of at most 60.
    async fn members_of(&self, conversation: &ConversationRef) -> Option<Vec<String>> {
        let id = &conversation.conversation_id;
        if let Some(known) = self.memory().members.get(id).cloned() {
            return Some(known);
        }
        let service_url = self.allowlist.admit(&conversation.service_url).ok()?;
        let members = match self.connector.get_members(&service_url, id).await {
            Ok(members) => members,
            Err(e) => {
                tracing::info!(error = %e, "cannot list a Teams chat's members for a card's refresh");
                return None;
            }
        };
        let users: Vec<String> = members
            .into_iter()
            .map(|m| m.id)
            .filter(|m| m.starts_with("29:"))
            .take(MAX_REFRESH_USERS)
            .collect();
        if users.is_empty() {
            return None;
        }
        self.memory().members.insert(id.clone(), users.clone());
        Some(users)
    }
}
