//! [`TeamsPort`]: the engine's chat port on Microsoft Teams. A person is
//! reached in their 1:1 chat with the bot (created once, or reused from the
//! reference an install or message left); the security channel gets a new
//! thread per alert; updates `PUT` the activity the [`MessageRef`] names.
//! Every call goes to a serviceUrl seen on an authenticated activity or
//! configured (the allowlist refuses anything else).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::activity::{ChannelAccount, OutgoingActivity};
use super::cards;
use super::connector::{ConnectorClient, TeamsError};
use super::service_url::ServiceUrlAllowlist;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatError, ChatPort, DirectoryPerson, Message, MessageRef, Recipient};
use crate::store::TeamsConversationStore;
use crate::store::teams::ConversationKind;
use stagegate_domain::chat_ids::Platform;

mod conversations;
mod install;
mod members;
mod probe;

pub(crate) use install::AppInstaller;

/// The subject under which the captured security channel is stored.
const CAPTURED_CHANNEL: &str = "security";

/// Where a conversation lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationRef {
    #[serde(rename = "s")]
    pub service_url: String,
    #[serde(rename = "c")]
    pub conversation_id: String,
}

/// What a [`MessageRef`] encodes: the conversation and the activity id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PostedRef {
    #[serde(flatten)]
    pub conversation: ConversationRef,
    #[serde(rename = "a")]
    pub activity_id: String,
}

impl PostedRef {
    pub(crate) fn encode(&self) -> MessageRef {
        MessageRef(serde_json::to_string(self).unwrap_or_default())
    }

    pub(crate) fn decode(at: &MessageRef) -> Option<Self> {
        serde_json::from_str(&at.0).ok()
    }
}

#[derive(Default)]
struct Memory {
    /// Entra object id → their 1:1 conversation.
    people: HashMap<String, ConversationRef>,
    /// The channel the bot was added to in a team.
    captured_channel: Option<ConversationRef>,
    /// (conversation, activity id) → the latest message there, to restore a
    /// card after a click that changed nothing.
    sent: HashMap<(String, String), Message>,
    /// Conversation id → the Teams user ids (`29:…`) of its people.
    members: HashMap<String, Vec<String>>,
}

pub struct TeamsPort {
    connector: ConnectorClient,
    allowlist: Arc<ServiceUrlAllowlist>,
    app_id: String,
    tenant_id: String,
    default_service_url: String,
    security_channel: Option<String>,
    /// References survive restarts here; `memory` caches them.
    store: Arc<dyn TeamsConversationStore>,
    memory: Mutex<Memory>,
    /// One writer at a time per card: a rewrite reads what was last sent
    /// and may then wait for the conversation's rate limit, so without it
    /// an older version (live buttons) could land after a newer one (the
    /// stage retired) that passed it while it waited.
    card_writes: crate::locks::KeyedLocks<String>,
    /// Installs the app for people the bot never heard from; `None` in
    /// tests that bring no Graph.
    installer: Option<Arc<AppInstaller>>,
}

impl std::fmt::Debug for TeamsPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamsPort")
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

impl TeamsPort {
    pub fn new(
        connector: ConnectorClient,
        allowlist: Arc<ServiceUrlAllowlist>,
        app_id: &str,
        tenant_id: &str,
        default_service_url: &str,
        security_channel: Option<String>,
        store: Arc<dyn TeamsConversationStore>,
    ) -> Self {
        Self {
            connector,
            allowlist,
            app_id: app_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            default_service_url: default_service_url.to_owned(),
            security_channel,
            store,
            memory: Mutex::new(Memory::default()),
            card_writes: crate::locks::KeyedLocks::default(),
            installer: None,
        }
    }

    /// Lets [`ChatPort::find_person`] install the app for people.
    #[must_use]
    pub(crate) fn with_installer(mut self, installer: Arc<AppInstaller>) -> Self {
        self.installer = Some(installer);
        self
    }

    fn memory(&self) -> MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn connector(&self) -> &ConnectorClient {
        &self.connector
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The configured `teams.service_url`, as written.
    pub fn default_service_url(&self) -> &str {
        &self.default_service_url
    }

    /// The latest message the bot put at `(conversation, activity)`.
    pub fn sent_message(&self, conversation: &str, activity: &str) -> Option<Message> {
        self.memory()
            .sent
            .get(&(conversation.to_owned(), activity.to_owned()))
            .cloned()
    }

    fn record(&self, at: &PostedRef, message: &Message) {
        let mut memory = self.memory();
        // Bounded: only the cards people may still click matter.
        if memory.sent.len() > 10_000 {
            memory.sent.clear();
        }
        memory.sent.insert(
            (
                at.conversation.conversation_id.clone(),
                at.activity_id.clone(),
            ),
            message.clone(),
        );
    }

    fn bot(&self) -> ChannelAccount {
        ChannelAccount {
            id: format!("28:{}", self.app_id),
            ..ChannelAccount::default()
        }
    }

    async fn to_person(&self, object_id: &str, message: &Message) -> Result<PostedRef, TeamsError> {
        let key = object_id.to_ascii_lowercase();
        let known = self.recall(ConversationKind::Person, &key).await;
        let conversation = match known {
            Some(c) => c,
            None => {
                let service_url = self
                    .allowlist
                    .admit(&self.default_service_url)
                    .map_err(|e| TeamsError::ServiceUrlNotAllowed(e.to_string()))?;
                // Teams accepts the Entra object id in `members[].id` when
                // the app is installed for the user (docs/architecture.md,
                // "Teams activities and cards").
                let created = self
                    .connector
                    .create_personal_conversation(
                        &service_url,
                        self.bot(),
                        object_id,
                        &self.tenant_id,
                    )
                    .await?;
                let c = ConversationRef {
                    service_url: created
                        .service_url
                        .unwrap_or_else(|| service_url.as_str().to_owned()),
                    conversation_id: created.id,
                };
                self.remember_person(&key, c.clone()).await;
                c
            }
        };
        let service_url = self
            .allowlist
            .admit(&conversation.service_url)
            .map_err(|e| TeamsError::ServiceUrlNotAllowed(e.to_string()))?;
        let activity = OutgoingActivity::card(self.card_in(&conversation, message).await);
        let sent = self
            .connector
            .send_to_conversation(&service_url, &conversation.conversation_id, &activity)
            .await;
        if matches!(sent, Err(TeamsError::NotFound { .. })) {
            // The conversation vanished: create it afresh next time.
            self.memory().people.remove(&key);
            if let Err(e) = self
                .store
                .delete_teams_conversation(&self.tenant_id, ConversationKind::Person, &key)
                .await
            {
                tracing::warn!(error = %e, "cannot forget a Teams conversation reference");
            }
        }
        let id = sent?
            .id
            .ok_or_else(|| TeamsError::Decode("no activity id returned".into()))?;
        Ok(PostedRef {
            conversation,
            activity_id: id,
        })
    }

    async fn to_channel(
        &self,
        requested: &str,
        activity: &OutgoingActivity,
    ) -> Result<PostedRef, TeamsError> {
        let (channel, service_url) = self.alerts_channel(requested).await?;
        let created = self
            .connector
            .create_channel_thread(&service_url, &channel, &self.tenant_id, activity)
            .await?;
        let activity_id = created
            .activity_id
            .ok_or_else(|| TeamsError::Decode("no activityId for the new thread".into()))?;
        Ok(PostedRef {
            conversation: ConversationRef {
                service_url: service_url.as_str().to_owned(),
                conversation_id: channel,
            },
            activity_id,
        })
    }
}

/// Teams' answers in the engine's terms (docs/architecture.md, "Teams
/// activities and cards" and "Teams rate limits").
pub(crate) fn chat_error(error: TeamsError) -> ChatError {
    match error {
        TeamsError::Blocked { code } => ChatError::Unreachable {
            platform: Platform::Teams,
            reason: format!("Teams refused the write ({code})"),
        },
        TeamsError::NotFound { code, .. } => ChatError::Unreachable {
            platform: Platform::Teams,
            reason: format!("conversation not found ({code})"),
        },
        TeamsError::RateLimited { retry_after } => ChatError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
        },
        e @ (TeamsError::PreconditionFailed
        | TeamsError::Unavailable { .. }
        | TeamsError::Transport(_)
        | TeamsError::Token(_)
        | TeamsError::Unauthorized { .. }) => ChatError::Transient(e.to_string()),
        e @ (TeamsError::TooLarge
        | TeamsError::BadRequest { .. }
        | TeamsError::ServiceUrlNotAllowed(_)
        | TeamsError::Decode(_)) => ChatError::Permanent(e.to_string()),
    }
}

#[async_trait]
impl ChatPort for TeamsPort {
    fn platform(&self) -> Platform {
        Platform::Teams
    }

    async fn post(&self, to: &Recipient, message: &Message) -> Result<MessageRef, ChatError> {
        let posted = match to {
            Recipient::Person { identity } => {
                if identity.platform != Platform::Teams.as_str()
                    || identity.workspace != self.tenant_id
                {
                    return Err(ChatError::Unreachable {
                        platform: Platform::Teams,
                        reason: format!("{identity} is not a person of this Teams tenant"),
                    });
                }
                self.to_person(&identity.user, message).await
            }
            Recipient::SecurityChannel { channel } => {
                let activity = OutgoingActivity::card(cards::render(message));
                self.to_channel(channel, &activity).await
            }
        };
        let posted = posted.map_err(|e| {
            tracing::warn!(error = %e, "Teams post failed");
            chat_error(e)
        })?;
        self.record(&posted, message);
        Ok(posted.encode())
    }

    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), ChatError> {
        let lock = self.card_writes.of(&at.0);
        let _one_writer = lock.lock().await;
        let card = match PostedRef::decode(at) {
            Some(posted) => self.card_in(&posted.conversation, message).await,
            None => cards::render(message),
        };
        let posted = self.replace(at, card).await?;
        self.record(&posted, message);
        Ok(())
    }

    /// Not recorded as sent: the next outcome replaces this notice rather
    /// than stacking on it.
    async fn check_channel(&self, channel: &str) -> Option<Result<(), ChatError>> {
        Some(self.channel_reachable(channel).await.map_err(chat_error))
    }

    async fn update_with_notice(&self, at: &MessageRef, notice: &str) -> Result<bool, ChatError> {
        let lock = self.card_writes.of(&at.0);
        let _one_writer = lock.lock().await;
        let posted = PostedRef::decode(at)
            .ok_or_else(|| ChatError::Permanent("not a Teams message reference".into()))?;
        let current = self.sent_message(&posted.conversation.conversation_id, &posted.activity_id);
        let card = match current {
            Some(Message::ApprovalRequest { .. }) => return Ok(false),
            Some(message) => cards::with_notice(cards::render(&message), notice),
            None => cards::render(&Message::Text {
                text: notice.to_owned(),
            }),
        };
        self.replace(at, card).await.map(|_| true)
    }

    /// Installs the app for them (Graph), so a 1:1 chat can be opened with
    /// their object id when the first card goes out.
    async fn find_person(&self, person: &DirectoryPerson) -> Result<ChatIdentity, ChatError> {
        self.find_by_directory(person).await
    }
}

impl TeamsPort {
    /// Replaces the activity at `at` with `card`.
    async fn replace(
        &self,
        at: &MessageRef,
        card: serde_json::Value,
    ) -> Result<PostedRef, ChatError> {
        let posted = PostedRef::decode(at)
            .ok_or_else(|| ChatError::Permanent("not a Teams message reference".into()))?;
        let service_url = self
            .allowlist
            .admit(&posted.conversation.service_url)
            .map_err(|e| ChatError::Permanent(e.to_string()))?;
        let activity = OutgoingActivity::card(card);
        self.connector
            .update_activity(
                &service_url,
                &posted.conversation.conversation_id,
                &posted.activity_id,
                &activity,
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "Teams update failed");
                chat_error(e)
            })?;
        Ok(posted)
    }
}
