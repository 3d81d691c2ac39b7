//! An in-memory chat adapter: records every post and update per recipient
//! (the latest version of each message), and lets tests act as a person:
//! "type" a command or "click" a button, which calls the engine exactly as
//! a real adapter does after authenticating the person.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;

use super::Engine;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{
    CardAction, ChatError, ChatPort, EarlierPost, Message, MessageRef, Recipient,
};
use stagegate_domain::chat_ids::Platform;

/// One posted message and every version of it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub reference: MessageRef,
    pub to: Recipient,
    pub versions: Vec<Message>,
    /// The outbox key it was posted for, if tagged.
    pub tag: Option<String>,
}

impl Posted {
    /// The current version (a posted message always has one).
    #[must_use]
    pub fn latest(&self) -> Message {
        self.versions.last().cloned().unwrap_or(Message::Text {
            text: String::new(),
        })
    }
}

#[derive(Default)]
struct State {
    posted: Vec<Posted>,
    unreachable: BTreeSet<ChatIdentity>,
    rate_limit_next: u32,
    fail_next: u32,
    /// The next post to each of these lands, but its answer is lost (a
    /// connection reset).
    lose_answer: BTreeSet<ChatIdentity>,
    /// Posts to these people wait (as if their chats were throttled).
    held: BTreeSet<ChatIdentity>,
}

pub struct MemoryChat {
    platform: Platform,
    state: Mutex<State>,
    engine: Mutex<Weak<Engine>>,
    /// Bumped on every post and release, so tests and held posts can wait
    /// for a change instead of polling.
    changed: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for MemoryChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryChat")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl MemoryChat {
    #[must_use]
    pub fn new(platform: Platform) -> Arc<Self> {
        Arc::new(Self {
            platform,
            state: Mutex::new(State::default()),
            engine: Mutex::new(Weak::new()),
            changed: tokio::sync::watch::Sender::new(0),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connects the adapter to the engine its people talk to (again after
    /// a restart: the chat platform outlives the bot).
    pub fn attach(&self, engine: &Arc<Engine>) {
        *self.engine.lock().unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(engine);
    }

    fn engine(&self) -> Arc<Engine> {
        self.engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .upgrade()
            .expect("MemoryChat used before attach() or after the engine was dropped")
    }

    /// Every message posted to `to`, latest versions, in posting order.
    #[must_use]
    pub fn messages_to(&self, to: &Recipient) -> Vec<Message> {
        self.state()
            .posted
            .iter()
            .filter(|p| p.to == *to)
            .map(Posted::latest)
            .collect()
    }

    /// Everything posted, with every version.
    #[must_use]
    pub fn posted(&self) -> Vec<Posted> {
        self.state().posted.clone()
    }

    /// The person cannot be reached (as if the app were not installed).
    pub fn set_unreachable(&self, who: &ChatIdentity) {
        self.state().unreachable.insert(who.clone());
    }

    /// The next `n` posts answer `RateLimited` (retry after 50 ms).
    pub fn rate_limit_next(&self, n: u32) {
        self.state().rate_limit_next = n;
    }

    /// Posts to `who` wait until [`Self::release`] (a chat the platform is
    /// throttling).
    pub fn hold(&self, who: &ChatIdentity) {
        self.state().held.insert(who.clone());
    }

    /// Lets the posts held for `who` through.
    pub fn release(&self, who: &ChatIdentity) {
        self.state().held.remove(who);
        self.changed.send_modify(|n| *n += 1);
    }

    /// Resolves once something has been posted to `to`.
    pub async fn posted_to(&self, to: &Recipient) {
        let mut changes = self.changed.subscribe();
        while self.messages_to(to).is_empty() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// The next `n` posts fail transiently.
    pub fn fail_next(&self, n: u32) {
        self.state().fail_next = n;
    }

    /// The next post to `who` lands, but the bot never hears so (as when
    /// it is killed, or the connection drops, after the platform took it).
    pub fn lose_answer_to(&self, who: &ChatIdentity) {
        self.state().lose_answer.insert(who.clone());
    }

    /// `who` types `text` in a direct chat with the bot; returns the reply.
    pub async fn type_text(&self, who: &ChatIdentity, text: &str) -> Message {
        self.engine().command(who, text).await
    }

    /// `who` presses `action` (with a justification typed into the card).
    pub async fn click(
        &self,
        who: &ChatIdentity,
        action: &CardAction,
        justification: Option<&str>,
    ) -> Message {
        self.engine().action(who, action, justification).await
    }

    async fn deliver(
        &self,
        to: &Recipient,
        message: &Message,
        tag: Option<&str>,
    ) -> Result<MessageRef, ChatError> {
        if let Recipient::Person { identity } = to {
            let mut changes = self.changed.subscribe();
            while self.state().held.contains(identity) {
                if changes.changed().await.is_err() {
                    break;
                }
            }
        }
        let mut state = self.state();
        if state.rate_limit_next > 0 {
            state.rate_limit_next -= 1;
            return Err(ChatError::RateLimited {
                retry_after: Duration::from_millis(50),
            });
        }
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(ChatError::Transient("emulated outage".into()));
        }
        if let Recipient::Person { identity } = to
            && state.unreachable.contains(identity)
        {
            return Err(ChatError::Unreachable {
                platform: self.platform,
                reason: format!("{identity} has not installed the app"),
            });
        }
        let reference = MessageRef(format!("mem-{}", state.posted.len() + 1));
        state.posted.push(Posted {
            reference: reference.clone(),
            to: to.clone(),
            versions: vec![message.clone()],
            tag: tag.map(str::to_owned),
        });
        let lost = match to {
            Recipient::Person { identity } => state.lose_answer.remove(identity),
            Recipient::SecurityChannel { .. } => false,
        };
        drop(state);
        self.changed.send_modify(|n| *n += 1);
        if lost {
            return Err(ChatError::Unanswered(
                "connection reset before the answer".into(),
            ));
        }
        Ok(reference)
    }

    /// Counts of posts per recipient (each message once, however updated).
    #[must_use]
    pub fn post_counts(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for p in &self.state().posted {
            let key = match &p.to {
                Recipient::Person { identity } => identity.to_string(),
                Recipient::SecurityChannel { channel } => format!("channel:{channel}"),
            };
            *out.entry(key).or_insert(0) += 1;
        }
        out
    }
}

#[async_trait]
impl ChatPort for MemoryChat {
    fn platform(&self) -> Platform {
        self.platform
    }

    async fn post(&self, to: &Recipient, message: &Message) -> Result<MessageRef, ChatError> {
        self.deliver(to, message, None).await
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
        self.deliver(to, message, Some(tag)).await
    }

    async fn find_tagged(
        &self,
        to: &Recipient,
        tag: &str,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> Result<EarlierPost, ChatError> {
        Ok(self
            .state()
            .posted
            .iter()
            .find(|p| p.to == *to && p.tag.as_deref() == Some(tag))
            .map_or(EarlierPost::NotFound, |p| {
                EarlierPost::Found(p.reference.clone())
            }))
    }

    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), ChatError> {
        let mut state = self.state();
        let Some(posted) = state.posted.iter_mut().find(|p| p.reference == *at) else {
            return Err(ChatError::Permanent(format!("no message {}", at.0)));
        };
        posted.versions.push(message.clone());
        Ok(())
    }
}
