//! The approval engine: every trigger (a command, a click, a callout, a
//! membership notification, a poll tick) ends in a reconcile of Graph's
//! truth against what stagegate has done; the difference becomes outbox
//! jobs that a worker delivers through the chat ports.

pub mod activation;
pub mod commands;
pub mod decisions;
mod extension;
mod guard;
pub mod intake;
pub mod jobs;
pub mod linking;
mod membership;
pub mod memory;
pub mod outbox;
pub mod reconcile;
pub mod render;
pub mod time;
pub mod timers;
pub mod view;

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};

use governor::{DefaultKeyedRateLimiter, Quota};
use secrecy::SecretString;
use tokio::sync::Notify;

use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatPort, Message};
use crate::config::{EngineSettings, PackageSettings};
use crate::graph::{GraphClient, GraphError};
use crate::identity::link::{LinkError, LinkService};
use crate::store::{Store, StoreError};
use stagegate_domain::catalog::{PackageCatalog, PackageEntry, TicketRule};
use stagegate_domain::ids::{AccessPackageId, Alias, ObjectId, RequestId};
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

pub struct Engine {
    settings: EngineSettings,
    store: Arc<dyn Store>,
    graph: GraphClient,
    links: Arc<LinkService>,
    ports: BTreeMap<String, Arc<dyn ChatPort>>,
    clock: Arc<dyn Clock>,
    catalog: PackageCatalog,
    packages: Vec<PackageInfo>,
    /// One async mutex per request being reconciled, so concurrent
    /// triggers for the same request run one after the other.
    locks: Mutex<HashMap<RequestId, Weak<tokio::sync::Mutex<()>>>>,
    commands: DefaultKeyedRateLimiter<String>,
    clicks: DefaultKeyedRateLimiter<String>,
    /// `None` (the default): only the platforms' own limits apply.
    destinations: Option<DefaultKeyedRateLimiter<String>>,
    /// Wakes the outbox worker when jobs are queued.
    outbox_wake: Notify,
    /// Signalled whenever the worker finishes a job.
    outbox_progress: Notify,
    /// Ids of the outbox jobs this process is delivering right now.
    outbox_delivering: std::sync::Mutex<std::collections::HashSet<i64>>,
    /// Decision recovery runs one at a time (start-up and on demand), so a
    /// recorded decision is never relayed twice by two recoveries.
    recovery: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("packages", &self.packages.len())
            .field("ports", &self.ports.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn package_info(p: &PackageSettings) -> Result<PackageInfo, EngineError> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        EngineError::Config(format!("engine.packages `{}`: {what}: {e}", p.alias))
    };
    let alias: Alias = p.alias.parse().map_err(|e| bad("alias", &e))?;
    let entry = PackageEntry {
        package: p
            .access_package_id
            .parse()
            .map_err(|e| bad("access_package_id", &e))?,
        policy: p.policy_id.parse().map_err(|e| bad("policy_id", &e))?,
        ticket_question: p
            .ticket_question_id
            .parse()
            .map_err(|e| bad("ticket_question_id", &e))?,
        ticket_rule: TicketRule::new(&p.ticket_pattern).map_err(|e| bad("ticket_pattern", &e))?,
        justification_required: p.justification_required,
        display_name: p.display_name.clone(),
        hidden: p.hidden,
    };
    Ok(PackageInfo {
        alias,
        entry,
        group: p.group_id.parse().map_err(|e| bad("group_id", &e))?,
        role: p.role.clone(),
        ticket_system: p.ticket_system.clone(),
        approval_mfa_max_age: match p.approval_mfa_max_age_minutes {
            _ if !p.approval_requires_mfa => None,
            m @ 1..=1440 => Some(chrono::Duration::minutes(i64::from(m))),
            m => {
                return Err(bad(
                    "approval_mfa_max_age_minutes",
                    &format!("{m} is outside 1–1440"),
                ));
            }
        },
    })
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Engine {
    pub fn new(deps: EngineDeps) -> Result<Arc<Self>, EngineError> {
        let packages = deps
            .settings
            .packages
            .iter()
            .map(package_info)
            .collect::<Result<Vec<_>, _>>()?;
        let catalog =
            PackageCatalog::new(packages.iter().map(|p| (p.alias.clone(), p.entry.clone())))
                .map_err(|e| EngineError::Config(e.to_string()))?;
        let per_second = NonZeroU32::new(deps.settings.messages_per_second_per_destination);
        let ports = deps
            .ports
            .into_iter()
            .map(|p| (p.platform().as_str().to_owned(), p))
            .collect();
        Ok(Arc::new(Self {
            commands: DefaultKeyedRateLimiter::keyed(per_minute(deps.settings.commands_per_minute)),
            clicks: DefaultKeyedRateLimiter::keyed(per_minute(deps.settings.clicks_per_minute)),
            destinations: per_second.map(|n| {
                DefaultKeyedRateLimiter::keyed(
                    Quota::per_second(n)
                        .allow_burst(n.saturating_mul(NonZeroU32::MIN.saturating_add(4))),
                )
            }),
            settings: deps.settings,
            store: deps.store,
            graph: deps.graph,
            links: deps.links,
            ports,
            clock: deps.clock,
            catalog,
            packages,
            locks: Mutex::new(HashMap::new()),
            outbox_wake: Notify::new(),
            outbox_progress: Notify::new(),
            outbox_delivering: std::sync::Mutex::default(),
            recovery: tokio::sync::Mutex::new(()),
        }))
    }

    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    #[must_use]
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    fn package_by_id(&self, id: &AccessPackageId) -> Option<&PackageInfo> {
        self.packages.iter().find(|p| p.entry.package == *id)
    }

    fn package_ids(&self) -> Vec<AccessPackageId> {
        self.packages.iter().map(|p| p.entry.package).collect()
    }

    /// The per-request lock (created on first use, dropped when unused).
    fn request_lock(&self, id: &RequestId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, weak| weak.strong_count() > 0);
        if let Some(lock) = locks.get(id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(*id, Arc::downgrade(&lock));
        lock
    }

    /// Registers how a person is reached in chat. Teams identities come
    /// with the platform's `aadObjectId`; Slack ones only from a link.
    pub async fn register_person(
        &self,
        who: &ChatIdentity,
        object_id: &ObjectId,
        display_name: &str,
    ) -> Result<(), EngineError> {
        self.store
            .upsert_person(who, object_id, display_name, chrono::Utc::now())
            .await?;
        Ok(())
    }

    /// The Entra user a chat identity acts as, through its completed link.
    async fn linked_user(&self, who: &ChatIdentity) -> Result<Option<ObjectId>, EngineError> {
        let Some(link) = self.store.link(who).await? else {
            return Ok(None);
        };
        Ok(link.object_id.parse().ok())
    }

    /// A fresh delegated token for `who`, or `None` when not linked (or
    /// the link needs a new sign-in).
    async fn token_of(&self, who: &ChatIdentity) -> Result<Option<SecretString>, EngineError> {
        match self.links.access_token(who).await {
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
        for who in self.store.linked_identities_of(user).await? {
            if let Some(token) = self.token_of(&who).await? {
                return Ok(Some((who, token)));
            }
        }
        Ok(None)
    }

    /// A sign-in prompt for `who`; `resume` is continued after sign-in.
    async fn sign_in_prompt(
        &self,
        who: &ChatIdentity,
        reason: &str,
        claims: Option<&str>,
        resume: Option<&resume::Resume>,
    ) -> Message {
        let resume = resume.and_then(|r| serde_json::to_string(r).ok());
        match self
            .links
            .sign_in_link(who, claims, resume.as_deref())
            .await
        {
            Ok(url) => Message::SignInPrompt {
                reason: reason.to_owned(),
                url,
            },
            Err(e) => {
                tracing::error!(error = %e, "cannot create a sign-in link");
                Message::Text {
                    text: "I can't create a sign-in link right now. Try again in a minute.".into(),
                }
            }
        }
    }

    /// Audits what a person asked for and what they were answered. The
    /// answer is summarised: a sign-in prompt's link is a credential and
    /// never written anywhere.
    async fn audit_reply(&self, who: &ChatIdentity, action: &str, subject: &str, reply: &Message) {
        let outcome = match reply {
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
}
