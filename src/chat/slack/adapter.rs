//! The Slack [`ChatPort`]: a person's DM is found with `conversations.open`
//! (its `D…` id cached per user, and kept in the database so a restarted bot
//! does not open every DM again; `chat.update` needs that id, never the
//! user id), the security channel is the configured channel id, and a
//! posted message is referred to by its channel and `ts`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::client::{PostMessage, SlackClient, UpdateMessage};
use super::error::SlackError;
use super::render::render;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{
    ChatError, ChatPort, ChatProfile, DirectoryPerson, EarlierPost, Message, MessageRef, Recipient,
};
use crate::store::SlackDmStore;
use stagegate_domain::chat_ids::Platform;

/// The metadata event type of a message the outbox posted; its payload's
/// `key` is the outbox job's key.
const DELIVERY_EVENT: &str = "stagegate_delivery";
/// Pages of 200 messages read looking for one post (a DM gets a few
/// messages a minute at most).
const MAX_HISTORY_PAGES: usize = 5;

/// `MessageRef`s this adapter issues: `slack:{channel}:{ts}`.
const PREFIX: &str = "slack:";

#[must_use]
pub fn message_ref(channel: &str, ts: &str) -> MessageRef {
    MessageRef(format!("{PREFIX}{channel}:{ts}"))
}

/// The channel and `ts` of a reference this adapter issued.
#[must_use]
pub fn parse_ref(at: &MessageRef) -> Option<(&str, &str)> {
    let rest = at.0.strip_prefix(PREFIX)?;
    let (channel, ts) = rest.split_once(':')?;
    (!channel.is_empty() && !ts.is_empty()).then_some((channel, ts))
}

/// What the engine should do about a failed Slack call.
#[must_use]
pub fn chat_error(e: &SlackError) -> ChatError {
    if let SlackError::RateLimited { retry_after, .. } = e {
        return ChatError::RateLimited {
            retry_after: *retry_after,
        };
    }
    match e.api_error() {
        Some("ratelimited") => ChatError::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        Some(
            error @ ("user_not_found" | "channel_not_found" | "is_archived" | "not_in_channel"
            | "user_disabled" | "cannot_dm_bot"),
        ) => ChatError::Unreachable {
            platform: Platform::Slack,
            reason: error.to_owned(),
        },
        _ if matches!(e, SlackError::Transport(_)) => ChatError::Unanswered(e.to_string()),
        _ if e.is_transient() => ChatError::Transient(e.to_string()),
        _ => ChatError::Permanent(e.to_string()),
    }
}

pub struct SlackPort {
    client: SlackClient,
    /// `(team, user)` → the bot's DM with them (`D…`).
    dms: Mutex<HashMap<(String, String), String>>,
    /// Where the DMs are kept across restarts (none in some tests).
    store: Option<Arc<dyn SlackDmStore>>,
    /// The bot's own workspace, `(team id, name)`, from `auth.test`.
    pub(super) workspace: tokio::sync::OnceCell<(String, String)>,
}

impl std::fmt::Debug for SlackPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackPort").finish_non_exhaustive()
    }
}

impl SlackPort {
    #[must_use]
    pub fn new(client: SlackClient) -> Self {
        Self {
            client,
            dms: Mutex::new(HashMap::new()),
            store: None,
            workspace: tokio::sync::OnceCell::new(),
        }
    }

    /// Keeps the DM channels it opens in `store` (and finds them there).
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn SlackDmStore>) -> Self {
        self.store = Some(store);
        self
    }

    #[must_use]
    pub fn client(&self) -> &SlackClient {
        &self.client
    }

    /// The bot's DM channel with `user` of `team`, opened once and then
    /// kept. `Ok((channel, kept))`: `kept` when it was not opened just now.
    pub async fn dm_channel(&self, team: &str, user: &str) -> Result<(String, bool), SlackError> {
        let key = (team.to_owned(), user.to_owned());
        if let Some(id) = self.dms.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok((id.clone(), true));
        }
        if let Some(store) = &self.store {
            match store.slack_dm(team, user).await {
                Ok(Some(id)) => {
                    self.remember(key, &id);
                    return Ok((id, true));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read a kept Slack DM"),
            }
        }
        let id = self.client.open_dm(user).await?;
        if let Some(store) = &self.store
            && let Err(e) = store
                .upsert_slack_dm(team, user, &id, chrono::Utc::now())
                .await
        {
            tracing::warn!(error = %e, "cannot keep a Slack DM");
        }
        self.remember(key, &id);
        Ok((id, false))
    }

    fn remember(&self, key: (String, String), channel: &str) {
        self.dms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, channel.to_owned());
    }

    /// Drops a kept DM Slack no longer knows (the app was reinstalled).
    async fn forget(&self, team: &str, user: &str) {
        self.dms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(team.to_owned(), user.to_owned()));
        if let Some(store) = &self.store
            && let Err(e) = store.forget_slack_dm(team, user).await
        {
            tracing::warn!(error = %e, "cannot forget a Slack DM");
        }
    }

    /// Posts to the person's DM; a kept DM Slack no longer knows is opened
    /// again, once.
    async fn post_to_person(
        &self,
        who: &crate::chat::identity::ChatIdentity,
        message: &Message,
        tag: Option<&str>,
    ) -> Result<MessageRef, SlackError> {
        let (team, user) = (&who.workspace, &who.user);
        let (channel, kept) = self.dm_channel(team, user).await?;
        match self.post_marked(&channel, message, tag).await {
            Err(e) if kept && e.api_error() == Some("channel_not_found") => {
                self.forget(team, user).await;
                let (channel, _) = self.dm_channel(team, user).await?;
                self.post_marked(&channel, message, tag).await
            }
            posted => posted,
        }
    }

    /// Posts `message` to `channel` (a `D…` or channel id).
    pub async fn post_to(
        &self,
        channel: &str,
        message: &Message,
    ) -> Result<MessageRef, SlackError> {
        self.post_marked(channel, message, None).await
    }

    async fn post_marked(
        &self,
        channel: &str,
        message: &Message,
        tag: Option<&str>,
    ) -> Result<MessageRef, SlackError> {
        let rendered = render(message);
        let posted = self
            .client
            .post_message(&PostMessage {
                channel: channel.to_owned(),
                text: rendered.text,
                blocks: Some(rendered.blocks),
                thread_ts: None,
                metadata: tag.map(|key| {
                    serde_json::json!({
                        "event_type": DELIVERY_EVENT,
                        "event_payload": { "key": key },
                    })
                }),
            })
            .await?;
        Ok(message_ref(&posted.channel, &posted.ts))
    }

    /// The bot's message in its DM with `who`, marked `tag`, since `since`.
    async fn find_in_dm(
        &self,
        who: &crate::chat::identity::ChatIdentity,
        tag: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<EarlierPost, SlackError> {
        let (channel, _) = self.dm_channel(&who.workspace, &who.user).await?;
        let oldest = format!(
            "{}.{:06}",
            since.timestamp().max(0),
            since.timestamp_subsec_micros()
        );
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_HISTORY_PAGES {
            let page = self
                .client
                .history(&channel, &oldest, cursor.as_deref())
                .await?;
            let found = page.messages.iter().find(|m| {
                m.bot_id.is_some()
                    && m.metadata.as_ref().is_some_and(|md| {
                        md["event_type"] == DELIVERY_EVENT && md["event_payload"]["key"] == tag
                    })
            });
            if let Some(m) = found {
                return Ok(EarlierPost::Found(message_ref(&channel, &m.ts)));
            }
            cursor = page
                .response_metadata
                .and_then(|r| r.next_cursor)
                .filter(|c| page.has_more && !c.is_empty());
            if cursor.is_none() {
                return Ok(EarlierPost::NotFound);
            }
        }
        // Too many messages since to read them all: say so, rather than
        // claim it is not there.
        Ok(EarlierPost::CannotTell)
    }
}

#[async_trait]
impl ChatPort for SlackPort {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn find_person(&self, person: &DirectoryPerson) -> Result<ChatIdentity, ChatError> {
        self.find_by_directory(person).await
    }

    async fn profile(&self, who: &ChatIdentity) -> Result<Option<ChatProfile>, ChatError> {
        self.person_profile(who)
            .await
            .map(Some)
            .map_err(|e| chat_error(&e))
    }

    async fn post(&self, to: &Recipient, message: &Message) -> Result<MessageRef, ChatError> {
        let posted = match to {
            Recipient::Person { identity } => self.post_to_person(identity, message, None).await,
            Recipient::SecurityChannel { channel } => self.post_to(channel, message).await,
        };
        posted.map_err(|e| chat_error(&e))
    }

    fn finds_tagged_posts(&self) -> bool {
        true
    }

    async fn post_tagged(
        &self,
        to: &Recipient,
        message: &Message,
        tag: &str,
    ) -> Result<MessageRef, ChatError> {
        let posted = match to {
            Recipient::Person { identity } => {
                self.post_to_person(identity, message, Some(tag)).await
            }
            Recipient::SecurityChannel { channel } => {
                self.post_marked(channel, message, Some(tag)).await
            }
        };
        posted.map_err(|e| chat_error(&e))
    }

    /// Only in DMs: reading a channel's history would need
    /// `channels:history`/`groups:history`, the messages people write in
    /// the security channel, which the bot has no business reading.
    async fn find_tagged(
        &self,
        to: &Recipient,
        tag: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<EarlierPost, ChatError> {
        match to {
            Recipient::Person { identity } => self
                .find_in_dm(identity, tag, since)
                .await
                .map_err(|e| chat_error(&e)),
            Recipient::SecurityChannel { .. } => Ok(EarlierPost::CannotTell),
        }
    }

    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), ChatError> {
        let Some((channel, ts)) = parse_ref(at) else {
            return Err(ChatError::Permanent(format!(
                "`{}` is not a Slack message reference",
                at.0
            )));
        };
        let rendered = render(message);
        self.client
            .update_message(&UpdateMessage {
                channel: channel.to_owned(),
                ts: ts.to_owned(),
                text: rendered.text,
                blocks: Some(rendered.blocks),
            })
            .await
            .map(|_| ())
            .map_err(|e| chat_error(&e))
    }
}
