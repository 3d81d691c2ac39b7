//! The chat port: what the engine asks of a chat platform, in
//! platform-neutral messages. The Teams and Slack adapters render these as
//! Adaptive Cards and Block Kit; the in-memory adapter records them.

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::identity::ChatIdentity;
use stagegate_domain::chat_ids::Platform;
use stagegate_domain::ids::{ObjectId, RequestId, StageId};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Recipient {
    /// A direct message to one person on one platform.
    Person { identity: ChatIdentity },
    /// The configured security channel (its platform's channel id).
    SecurityChannel { channel: String },
}

/// A posted message, as the platform identifies it (Teams activity id and
/// conversation, Slack channel and `ts`), opaque to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef(pub String);

tokio::task_local! {
    /// Set by the outbox around a delivery: how long a chat client may keep
    /// the job waiting in line for a platform-wide limit (one Slack method
    /// for the whole workspace) before answering `RateLimited` with the
    /// expected wait instead, so the job gives its delivery slot to others
    /// and is retried then. Unset (interactive answers), clients wait.
    pub static QUEUE_PATIENCE: std::time::Duration;
}

/// Why a post or update failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The bot cannot reach this person (not installed, no conversation,
    /// user unknown to the platform). Not retried.
    #[error("the person cannot be reached on {platform}: {reason}")]
    Unreachable { platform: Platform, reason: String },
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: StdDuration },
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The request went out and no answer came back (timeout, connection
    /// reset): a post may have landed.
    #[error("no answer: {0}")]
    Unanswered(String),
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// A person as a message shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    pub id: ObjectId,
    pub name: String,
}

/// An earlier stage's decision, shown to later approvers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageHistory {
    pub stage: u8,
    /// `Approved`, `Denied`, `TimedOut`.
    pub result: String,
    pub by: Option<PersonRef>,
    pub justification: String,
}

/// What a button does. Buttons carry ids only: who clicked is whoever the
/// platform authenticated, never something in the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum CardAction {
    Approve {
        request: RequestId,
        stage: StageId,
    },
    Deny {
        request: RequestId,
        stage: StageId,
    },
    /// Activate for an ISO-8601 duration (one of the offered choices).
    Activate {
        request: RequestId,
        duration: String,
    },
    /// Ask for more time on an assignment about to expire.
    Extend {
        request: RequestId,
    },
}

/// The content of an approval card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalCard {
    pub request: RequestId,
    pub stage_id: StageId,
    pub stage: u8,
    pub stages: u8,
    pub requester: PersonRef,
    pub package: String,
    /// The privileged role (or group) the package leads to.
    pub role: Option<String>,
    pub ticket: Option<String>,
    pub justification: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub history: Vec<StageHistory>,
    pub justification_required: bool,
    pub escalated: bool,
}

impl ApprovalCard {
    #[must_use]
    pub fn actions(&self) -> [CardAction; 2] {
        [
            CardAction::Approve {
                request: self.request,
                stage: self.stage_id,
            },
            CardAction::Deny {
                request: self.request,
                stage: self.stage_id,
            },
        ]
    }
}

/// A platform-neutral message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Message {
    /// Approve/Deny card (live).
    ApprovalRequest {
        card: ApprovalCard,
    },
    /// The same card, decided: no live buttons; `outcome` says how it ended.
    ApprovalDecided {
        card: ApprovalCard,
        outcome: String,
    },
    /// A status update for the requester.
    RequestStatus {
        request: RequestId,
        package: String,
        text: String,
    },
    /// One-click activation with duration choices up to the policy maximum.
    ActivationPrompt {
        request: RequestId,
        package: String,
        group: String,
        /// ISO-8601 durations, ascending; the last is the maximum.
        choices: Vec<String>,
        default: String,
        mfa_required: bool,
    },
    /// The prompt after it was used or became moot.
    ActivationClosed {
        request: RequestId,
        text: String,
    },
    ActivationResult {
        request: RequestId,
        active_until: Option<DateTime<Utc>>,
        text: String,
    },
    /// An assignment is about to expire; offers to extend.
    ExpiryWarning {
        request: RequestId,
        package: String,
        expires: DateTime<Utc>,
    },
    /// Stage decision time is running out.
    Reminder {
        request: RequestId,
        stage: u8,
        deadline: DateTime<Utc>,
    },
    SecurityAlert {
        title: String,
        lines: Vec<String>,
    },
    /// A link to sign in (first link, or step-up), and why.
    SignInPrompt {
        reason: String,
        url: String,
    },
    Help {
        text: String,
    },
    /// The answer to an action that needed a sign-in while the sign-in
    /// link already sent for it is still live: nothing new was sent, and
    /// the text says what the link now continues.
    SignInStillValid {
        text: String,
    },
    Text {
        text: String,
    },
}

impl Message {
    /// The buttons the message carries.
    #[must_use]
    pub fn actions(&self) -> Vec<CardAction> {
        match self {
            Self::ApprovalRequest { card } => card.actions().to_vec(),
            Self::ActivationPrompt {
                request, choices, ..
            } => choices
                .iter()
                .map(|d| CardAction::Activate {
                    request: *request,
                    duration: d.clone(),
                })
                .collect(),
            Self::ExpiryWarning { request, .. } => vec![CardAction::Extend { request: *request }],
            _ => Vec::new(),
        }
    }

    /// A plain-text rendering, for logs-free previews and the in-memory
    /// adapter's assertions.
    #[must_use]
    pub fn text(&self) -> String {
        crate::engine::render::plain(self)
    }
}

/// What a platform can tell about a post the bot may have made without
/// learning its reference (killed, or the answer lost, after the platform
/// took it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarlierPost {
    /// It landed: this is it.
    Found(MessageRef),
    /// It did not land.
    NotFound,
    /// The platform gives the bot no way to look (Teams has no API to read
    /// a bot's own messages in a personal chat).
    CannotTell,
}

/// One chat platform.
#[async_trait]
pub trait ChatPort: Send + Sync {
    fn platform(&self) -> Platform;
    async fn post(&self, to: &Recipient, message: &Message) -> Result<MessageRef, ChatError>;
    async fn update(&self, at: &MessageRef, message: &Message) -> Result<(), ChatError>;

    /// Rewrites the message at `at` as this port last sent it, with
    /// `notice` on top: a click's outcome on the card clicked. Only asked
    /// of platforms whose click handlers pass the clicked card (Teams;
    /// Slack answers clicks ephemerally). `Ok(false)`: nothing written,
    /// because the message as last sent still asks for a decision —
    /// rewriting it would show its buttons again to a clicker whose own
    /// view of it has none.
    async fn update_with_notice(&self, at: &MessageRef, notice: &str) -> Result<bool, ChatError> {
        let _ = (at, notice);
        Err(ChatError::Permanent(format!(
            "{} shows click outcomes another way",
            self.platform().as_str()
        )))
    }

    /// Whether the bot can post to security channel `channel`, checked
    /// without posting (start-up and `/readyz`). `None`: this platform
    /// cannot tell without posting.
    async fn check_channel(&self, channel: &str) -> Option<Result<(), ChatError>> {
        let _ = channel;
        None
    }

    /// Whether [`ChatPort::find_tagged`] can look for a post (Slack can:
    /// the bot reads its DMs; Teams cannot).
    fn finds_tagged_posts(&self) -> bool {
        false
    }

    /// Posts `message` marked with `tag` (an outbox job's key) where the
    /// platform can carry a mark, so [`ChatPort::find_tagged`] can find it.
    async fn post_tagged(
        &self,
        to: &Recipient,
        message: &Message,
        tag: &str,
    ) -> Result<MessageRef, ChatError> {
        let _ = tag;
        self.post(to, message).await
    }

    /// Looks for a post to `to` marked `tag`, made at or after `since`.
    async fn find_tagged(
        &self,
        to: &Recipient,
        tag: &str,
        since: DateTime<Utc>,
    ) -> Result<EarlierPost, ChatError> {
        let _ = (to, tag, since);
        Ok(EarlierPost::CannotTell)
    }

    /// Finds the chat account of a person the bot has never heard from,
    /// by their Entra identity, so a card can reach them the first time:
    /// Teams installs the app for them (a 1:1 chat can then be opened with
    /// their object id); Slack looks their `mail`, then their
    /// `userPrincipalName`, up. [`ChatError::Unreachable`] says why not
    /// (not on this platform, deactivated, installation refused).
    async fn find_person(&self, person: &DirectoryPerson) -> Result<ChatIdentity, ChatError> {
        let _ = person;
        Err(ChatError::Unreachable {
            platform: self.platform(),
            reason: "this platform cannot look people up".into(),
        })
    }

    /// What the platform itself says of a person: the names to show them
    /// by and the email address it verified for them (Slack's profile
    /// email). `None` where the platform tells nothing more than the id.
    async fn profile(&self, who: &ChatIdentity) -> Result<Option<ChatProfile>, ChatError> {
        let _ = who;
        Ok(None)
    }
}

/// A person as Entra describes them: what a platform looks them up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryPerson {
    pub id: stagegate_domain::ids::ObjectId,
    pub display_name: String,
    pub mail: Option<String>,
    pub user_principal_name: Option<String>,
}

/// A person as their chat platform describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatProfile {
    /// The handle people type (`alex` for Slack's `@alex`).
    pub handle: Option<String>,
    /// The full name.
    pub name: Option<String>,
    /// The workspace's name (`Contoso`).
    pub workspace_name: Option<String>,
    /// The email address the platform verified for this account.
    pub email: Option<String>,
}
