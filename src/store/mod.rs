//! The store behind traits, one per area, so the engine, the adapters and
//! the identity and intake services never depend on a backend. SQLite
//! (through sqlx) is the only backend today; its SQL lives in [`sqlite`].

pub(crate) mod activations;
pub(crate) mod cards;
pub mod decisions;
pub(crate) mod engine;
pub(crate) mod figures;
pub(crate) mod intake;
pub(crate) mod link_upkeep;
pub mod links;
pub mod outbox;
pub mod replay;
pub(crate) mod slack;
pub(crate) mod sqlite;
pub(crate) mod states;
pub(crate) mod teams;

use async_trait::async_trait;

pub use activations::ActivationStore;
pub use cards::CardStore;
pub use decisions::DecisionStore;
pub use engine::RequestStore;
pub use figures::{Figures, FiguresStore};
pub use intake::IntakeStore;
pub use link_upkeep::LinkUpkeepStore;
pub use links::LinkStore;
pub use outbox::OutboxStore;
pub use replay::ReplayStore;
pub use slack::SlackDmStore;
pub use sqlite::{MIGRATOR, SqliteStore};
pub use states::{ActivationState, CardState, DecisionState, DeliveryStatus, UnknownState};
pub use teams::TeamsConversationStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A unique constraint refused the write: the thing already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// A row holds a value this build cannot read (see [`states`]).
    #[error("unreadable row: {0}")]
    Corrupt(String),
    /// A bounded table is at its cap; nothing was written (the caller
    /// refuses the request rather than forget what the table guards).
    #[error("{0} is full; try again later")]
    Full(&'static str),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`].
    pub fn from_write(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.message().to_owned())
            }
            _ => Self::Sqlx(error),
        }
    }
}

/// Health and the audit log.
#[async_trait]
pub trait OpsStore: Send + Sync {
    /// Ready means: the database answers, and its schema is the one this
    /// build expects. `Err` says why not, for the readiness probe.
    async fn readiness(&self) -> Result<(), String>;

    /// Appends one line to the audit log.
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        outcome: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError>;
}

/// Everything the bot keeps. Callers hold `Arc<dyn Store>`, or the one
/// area trait they need.
pub trait Store:
    RequestStore
    + OutboxStore
    + CardStore
    + DecisionStore
    + ActivationStore
    + IntakeStore
    + LinkStore
    + LinkUpkeepStore
    + TeamsConversationStore
    + SlackDmStore
    + ReplayStore
    + FiguresStore
    + OpsStore
    + std::fmt::Debug
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: RequestStore
        + OutboxStore
        + CardStore
        + DecisionStore
        + ActivationStore
        + IntakeStore
        + LinkStore
        + LinkUpkeepStore
        + TeamsConversationStore
        + SlackDmStore
        + ReplayStore
        + FiguresStore
        + OpsStore
        + std::fmt::Debug
        + Send
        + Sync
        + ?Sized
{
}
