//! The approval engine: every trigger (a command, a click, a callout, a
//! membership notification, a poll tick) ends in a reconcile of Graph's
//! truth against what stagegate has done; the difference becomes outbox
//! jobs that a worker delivers through the chat ports.

mod acted;
pub(crate) mod activation;
pub(crate) mod commands;
mod context;
pub(crate) mod decisions;
pub use acted::Acted;
mod extension;
mod guard;
pub mod intake;
pub mod jobs;
pub(crate) mod linking;
mod membership;
pub mod memory;
pub(crate) mod outbox;
pub(crate) mod reconcile;
mod refresh;
pub(crate) mod render;
pub mod time;
pub(crate) mod timers;
pub(crate) mod view;

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::Quota;
use secrecy::SecretString;

use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatPort, Message};
use crate::config::EngineSettings;
use crate::graph::{GraphClient, GraphError};
use crate::identity::link::{LinkError, LinkService, SignInLink};
use crate::store::{Store, StoreError};
use context::Context;
use stagegate_domain::catalog::PackageEntry;
use stagegate_domain::ids::{AccessPackageId, Alias, ObjectId};
use time::Clock;

/// What can go wrong inside the engine (never shown raw to people).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Graph: {0}")]
    Graph(#[from] GraphError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("identity: {0}")]
    Link(#[from] LinkError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("unexpected data: {0}")]
    Data(String),
}

/// A configured, requestable package.
#[derive(Debug, Clone)]
pub struct PackageInfo {
    pub alias: Alias,
    pub entry: PackageEntry,
    pub group: ObjectId,
    pub role: Option<String>,
    pub ticket_system: String,
    /// How recent an approver's MFA sign-in must be, when the package's
    /// config demands one for approving.
    pub approval_mfa_max_age: Option<chrono::Duration>,
}

/// Everything the engine is built from.
pub struct EngineDeps {
    pub settings: EngineSettings,
    pub store: Arc<dyn Store>,
    pub graph: GraphClient,
    pub links: Arc<LinkService>,
    pub ports: Vec<Arc<dyn ChatPort>>,
    pub clock: Arc<dyn Clock>,
}

/// The engine: a shared context every workflow reads, plus the state each
/// workflow owns, declared next to the code that uses it.
pub struct Engine {
    ctx: Context,
    requests: commands::Requests,
    decisions: decisions::Decisions,
    locks: reconcile::RequestLocks,
    delivery: outbox::Delivery,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("packages", &self.ctx.packages.len())
            .field("ports", &self.ctx.ports.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Engine {
    pub fn new(deps: EngineDeps) -> Result<Arc<Self>, EngineError> {
        let settings = &deps.settings;
        let requests = commands::Requests::new(settings);
        let decisions = decisions::Decisions::new(settings);
        let delivery = outbox::Delivery::new(settings);
        Ok(Arc::new(Self {
            ctx: Context::new(deps)?,
            requests,
            decisions,
            locks: reconcile::RequestLocks::default(),
            delivery,
        }))
    }

    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.ctx.store
    }

    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx.clock.now()
    }

    fn package_by_id(&self, id: &AccessPackageId) -> Option<&PackageInfo> {
        self.ctx.packages.iter().find(|p| p.entry.package == *id)
    }

    fn package_ids(&self) -> Vec<AccessPackageId> {
        self.ctx.packages.iter().map(|p| p.entry.package).collect()
    }

    /// Registers how a person is reached in chat. Teams identities come
    /// with the platform's `aadObjectId`; Slack ones only from a link.
    pub async fn register_person(
        &self,
        who: &ChatIdentity,
        object_id: &ObjectId,
        display_name: &str,
    ) -> Result<(), EngineError> {
        self.ctx
            .store
            .upsert_person(who, object_id, display_name, chrono::Utc::now())
            .await?;
        Ok(())
    }

    /// Whether the directory knows `id` (Graph `GET /users/{id}`; `false`
    /// on 404). A disabled account is still known.
    pub async fn in_directory(&self, id: &ObjectId) -> Result<bool, EngineError> {
        Ok(crate::graph::directory::user(&self.ctx.graph, id)
            .await?
            .is_some())
    }

    /// The Entra user a chat identity acts as, through its completed link.
    async fn linked_user(&self, who: &ChatIdentity) -> Result<Option<ObjectId>, EngineError> {
        let Some(link) = self.ctx.store.link(who).await? else {
            return Ok(None);
        };
        Ok(link.object_id.parse().ok())
    }

    /// A fresh delegated token for `who`, or `None` when not linked (or
    /// the link needs a new sign-in).
    async fn token_of(&self, who: &ChatIdentity) -> Result<Option<SecretString>, EngineError> {
        match self.ctx.links.access_token(who).await {
            Ok((token, _)) => Ok(Some(token)),
            Err(LinkError::NotLinked | LinkError::Reauthenticate) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A delegated token of any linked identity of `user`.
    async fn token_of_user(
        &self,
        user: &ObjectId,
    ) -> Result<Option<(ChatIdentity, SecretString)>, EngineError> {
        for who in self.ctx.store.linked_identities_of(user).await? {
            if let Some(token) = self.token_of(&who).await? {
                return Ok(Some((who, token)));
            }
        }
        Ok(None)
    }

    /// A sign-in prompt for `who`; `resume` is continued after sign-in.
    /// When `who` already has a live link for the same purpose (see
    /// [`resume::Resume::purpose`]), that link now continues `resume` and
    /// the answer says so instead of carrying a new link.
    async fn sign_in_prompt(
        &self,
        who: &ChatIdentity,
        reason: &str,
        claims: Option<&str>,
        resume: Option<&resume::Resume>,
    ) -> Message {
        let purpose = resume.map(resume::Resume::purpose);
        let encoded = resume.and_then(|r| serde_json::to_string(r).ok());
        match self
            .ctx
            .links
            .sign_in_link(who, purpose.as_deref(), claims, encoded.as_deref())
            .await
        {
            Ok(SignInLink::New(url)) => Message::SignInPrompt {
                reason: reason.to_owned(),
                url,
            },
            Ok(SignInLink::StillValid { previous_resume }) => {
                let previous = previous_resume.and_then(|p| serde_json::from_str(&p).ok());
                Message::SignInStillValid {
                    text: guard::still_valid(previous.as_ref(), resume),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot create a sign-in link");
                Message::Text {
                    text: "I can't create a sign-in link right now. Try again in a minute.".into(),
                }
            }
        }
    }

    /// A sign-in prompt that could not be delivered: its link is voided, so
    /// the person's next action mints and sends a new one rather than
    /// being told to use a link they never got.
    pub async fn sign_in_undelivered(&self, prompt: &Message) {
        if let Message::SignInPrompt { url, .. } = prompt
            && let Err(e) = self.ctx.links.void_link(url).await
        {
            tracing::warn!(error = %e, "cannot void the link of an undelivered sign-in prompt");
        }
    }

    /// Audits what a person asked for and what they were answered. The
    /// answer is summarised: a sign-in prompt's link is a credential and
    /// never written anywhere.
    async fn audit_reply(&self, who: &ChatIdentity, action: &str, subject: &str, reply: &Message) {
        let outcome = match reply {
            // Coalesced: the link's first prompt was audited, and its row in
            // `link_tokens` counts the reuses (docs/security.md, "Floods").
            Message::SignInStillValid { .. } => return,
            Message::SignInPrompt { .. } => "sign-in requested".to_owned(),
            other => other.text().chars().take(160).collect(),
        };
        self.audit(
            &who.to_string(),
            action,
            subject,
            &outcome,
            serde_json::json!({}),
        )
        .await;
    }

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) {
        if let Err(e) = self
            .ctx
            .store
            .audit(actor, action, subject, outcome, &detail)
            .await
        {
            tracing::error!(error = %e, action, "audit log write failed");
        }
    }
}

pub mod resume {
    //! What a sign-in link continues once the person is signed in.
    use serde::{Deserialize, Serialize};

    use crate::chat::port::CardAction;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(
        tag = "resume",
        rename_all = "camelCase",
        rename_all_fields = "camelCase"
    )]
    pub enum Resume {
        /// Run this command again.
        Command { text: String },
        /// Perform this card action again, with the justification given.
        Action {
            action: CardAction,
            justification: Option<String>,
        },
    }

    impl Resume {
        /// What the sign-in is for, as one live link per person serves it:
        /// a decision on one stage (Approve and Deny alike, so the last
        /// click wins), one activation, one extension, or a command.
        #[must_use]
        pub fn purpose(&self) -> String {
            match self {
                Self::Command { .. } => "command".to_owned(),
                Self::Action { action, .. } => match action {
                    CardAction::Approve { request, stage }
                    | CardAction::Deny { request, stage } => {
                        format!("decision:{request}:{stage}")
                    }
                    CardAction::Activate { request, .. } => format!("activation:{request}"),
                    CardAction::Extend { request } => format!("extension:{request}"),
                },
            }
        }

        /// What the sign-in continues, as a person reads it.
        #[must_use]
        pub fn describe(&self) -> String {
            match self {
                Self::Command { text } => format!("your command `{}`", text.trim()),
                Self::Action { action, .. } => match action {
                    CardAction::Approve { request, .. } => {
                        format!("your approval of request {request}")
                    }
                    CardAction::Deny { request, .. } => format!("your denial of request {request}"),
                    CardAction::Activate { request, duration } => {
                        format!("the activation of request {request} ({duration})")
                    }
                    CardAction::Extend { request } => {
                        format!("the extension of request {request}")
                    }
                },
            }
        }
    }
}
