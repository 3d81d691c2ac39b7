//! The emulated Slack workspace's state: people, conversations and their
//! messages, modals, and the short-lived capabilities Slack hands out
//! (`trigger_id`s, `response_url`s), plus a log of API calls and deliveries
//! for tests to assert on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::moments::MessageMoments;

/// An id in Slack's style (`U…`, `D…`, `T…`), stable for a given seed.
pub fn stable_id(prefix: char, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    format!("{prefix}{}", hex::encode_upper(&digest[..5]))
}

/// A fresh random id in Slack's style (`V…`).
pub fn random_id(prefix: char) -> String {
    let bytes: [u8; 5] = rand::thread_rng().r#gen();
    format!("{prefix}{}", hex::encode_upper(bytes))
}

pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::thread_rng().fill(buffer.as_mut_slice());
    hex::encode(buffer)
}

#[derive(Debug, Clone, Serialize)]
pub struct SlackUser {
    pub id: String,
    /// The persona key in the tenant file.
    pub key: String,
    pub entra_id: String,
    /// The handle (`alex.wilber`).
    pub name: String,
    pub real_name: String,
    pub email: String,
    /// Deactivated accounts (a disabled Entra account).
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelKind {
    /// The bot's DM with one person.
    Im {
        user: String,
    },
    Public,
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub ts: String,
    /// The person who wrote it; `None` for the bot.
    pub user: Option<String>,
    pub bot_id: Option<String>,
    pub text: String,
    pub blocks: Vec<Value>,
    /// ts of the last `chat.update`, as Slack's `edited.ts`.
    pub edited: Option<String>,
    /// The message metadata it was posted (or last updated) with:
    /// `{"event_type": "…", "event_payload": {…}}`. Returned by
    /// `conversations.history` only with `include_all_metadata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// `(request, stage)` of the approve button it was posted with, if any
    /// (for the bench: the blocks change when the card is updated).
    #[serde(skip)]
    pub posted_card: Option<(String, String)>,
    /// When it was posted, updated and clicked (real time).
    #[serde(skip)]
    pub moments: MessageMoments,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub kind: ChannelKind,
    /// Member user ids (the bot user included when it is a member).
    pub members: BTreeSet<String>,
    pub messages: Vec<Message>,
    /// Whether `conversations.open` has been called for this DM.
    pub opened: bool,
    last_ts: (i64, u32),
}

impl Channel {
    pub fn new(id: String, name: String, kind: ChannelKind, members: BTreeSet<String>) -> Self {
        Self {
            id,
            name,
            kind,
            members,
            messages: Vec::new(),
            opened: false,
            last_ts: (0, 0),
        }
    }

    /// A `ts` ("1700000000.000100") unique and increasing in this channel.
    pub fn next_ts(&mut self, now: DateTime<Utc>) -> String {
        let (secs, micros) = (now.timestamp(), now.timestamp_subsec_micros());
        self.last_ts = if (secs, micros) > self.last_ts {
            (secs, micros)
        } else if self.last_ts.1 < 999_999 {
            (self.last_ts.0, self.last_ts.1 + 1)
        } else {
            (self.last_ts.0 + 1, 0)
        };
        format!("{}.{:06}", self.last_ts.0, self.last_ts.1)
    }

    pub fn message_mut(&mut self, ts: &str) -> Option<&mut Message> {
        self.messages.iter_mut().find(|m| m.ts == ts)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub ts: String,
    pub text: String,
    pub blocks: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub user: String,
    pub issued: DateTime<Utc>,
    pub exchanged: bool,
    /// `(channel, ts)` of the message whose button issued it.
    pub from_message: Option<(String, String)>,
}

/// What a `response_url` acts on.
#[derive(Debug, Clone)]
pub enum HookSource {
    Command,
    /// A click on a message (`replace_original` / `delete_original` target).
    Action {
        message_ts: String,
        ephemeral: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Hook {
    pub user: String,
    pub channel: String,
    pub issued: DateTime<Utc>,
    pub uses: u32,
    pub source: HookSource,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenView {
    pub id: String,
    pub user: String,
    /// The view as Slack returns it (ids, hash, state filled in).
    pub view: Value,
    pub hash: String,
    pub external_id: Option<String>,
    pub open: bool,
    /// `(channel, ts)` of the message whose button opened it (its trigger's
    /// message), so a submission counts as a click on that message.
    #[serde(skip)]
    pub from_message: Option<(String, String)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BotEndpoints {
    pub commands: Option<String>,
    pub interactions: Option<String>,
    /// Slack's acknowledgement deadline, 3 s; lowered only by tests.
    pub ack_timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub method: String,
    /// HTTP status returned (200 or 429).
    pub status: u16,
    pub ok: bool,
    pub error: Option<String>,
    pub channel: Option<String>,
    /// Milliseconds since the sandbox started, real time.
    pub at_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// `command`, `block_actions`, `view_submission`.
    pub kind: String,
    pub url: String,
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// The bot did not answer within the acknowledgement deadline.
    pub timed_out: bool,
    pub error: Option<String>,
}

#[derive(Debug, Default)]
pub struct SlackWorld {
    /// By Slack user id.
    pub users: BTreeMap<String, SlackUser>,
    /// By channel id.
    pub channels: BTreeMap<String, Channel>,
    pub ephemerals: Vec<Ephemeral>,
    /// Bot tokens and their scopes.
    pub tokens: HashMap<String, Vec<String>>,
    pub triggers: HashMap<String, Trigger>,
    pub hooks: HashMap<String, Hook>,
    pub views: BTreeMap<String, OpenView>,
    /// Each person's modal stack, bottom first.
    pub view_stacks: HashMap<String, Vec<String>>,
    pub bot: BotEndpoints,
    pub calls: Vec<CallRecord>,
    pub deliveries: Vec<Delivery>,
}

impl SlackWorld {
    pub fn user_by_key(&self, key: &str) -> Option<&SlackUser> {
        self.users.values().find(|u| u.key == key)
    }

    /// The bot's DM channel with `user`.
    pub fn dm_of(&self, user: &str) -> Option<&Channel> {
        self.channels
            .values()
            .find(|c| c.kind == ChannelKind::Im { user: user.into() })
    }

    /// A channel by id, or a public channel by name (`#name` or `name`).
    pub fn resolve_channel(&self, channel: &str) -> Option<String> {
        if self.channels.contains_key(channel) {
            return Some(channel.to_owned());
        }
        let name = channel.strip_prefix('#').unwrap_or(channel);
        self.channels
            .values()
            .find(|c| c.kind == ChannelKind::Public && c.name == name)
            .map(|c| c.id.clone())
    }

    /// A fresh `trigger_id` for `user` (format `digits.digits.hex`).
    pub fn issue_trigger(&mut self, user: &str, now: DateTime<Utc>) -> String {
        let id = format!(
            "{}{:03}.{}.{}",
            now.timestamp(),
            rand::thread_rng().gen_range(0..1000),
            rand::thread_rng().gen_range(100_000_000u64..999_999_999),
            random_hex(16)
        );
        self.triggers.insert(
            id.clone(),
            Trigger {
                user: user.into(),
                issued: now,
                exchanged: false,
                from_message: None,
            },
        );
        id
    }

    /// A fresh `response_url` capability token.
    pub fn issue_hook(
        &mut self,
        user: &str,
        channel: &str,
        source: HookSource,
        now: DateTime<Utc>,
    ) -> String {
        let token = random_hex(16);
        self.hooks.insert(
            token.clone(),
            Hook {
                user: user.into(),
                channel: channel.into(),
                issued: now,
                uses: 0,
                source,
            },
        );
        token
    }

    /// Notes `user`'s click on message `(channel, ts)`, arrived at `at`.
    pub fn note_click(&mut self, message: &(String, String), user: &str, at: std::time::Instant) {
        if let Some(m) = self
            .channels
            .get_mut(&message.0)
            .and_then(|c| c.message_mut(&message.1))
        {
            m.moments.note_click(user, at);
        }
    }

    /// Whether `user` can see `channel` (a member, or the DM's person).
    pub fn can_see(&self, user: &str, channel: &str) -> bool {
        self.channels.get(channel).is_some_and(|c| match &c.kind {
            ChannelKind::Im { user: owner } => owner == user,
            ChannelKind::Public => c.members.contains(user),
        })
    }
}
