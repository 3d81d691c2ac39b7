//! The SQLite backend: one pool, the embedded migrations, and the SQL of
//! every store trait, one file per area.

mod backup;
mod cards;
mod decisions;
mod engine;
mod figures;
mod intake;
mod link_upkeep;
mod links;
mod outbox;
mod replay;
mod slack;
mod teams;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{OpsStore, StoreError};

pub(crate) use backup::backup;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Reads a column holding an id stagegate wrote from a validated newtype:
/// one that no longer parses is corruption, reported rather than skipped.
pub(crate) fn parse_id<T>(row: &sqlx::sqlite::SqliteRow, column: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    use sqlx::Row;
    let raw: String = row.try_get(column)?;
    raw.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column} `{raw}`: {e}")))
}

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file and applies migrations.
    pub async fn open(path: &Path, max_connections: u32) -> Result<Self, StoreError> {
        let display = path.display().to_string();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{display}"))
            .map_err(|source| StoreError::Open {
                path: display.clone(),
                source,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: display,
                source,
            })?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

#[async_trait]
impl OpsStore for SqliteStore {
    /// Ready means: the database answers, and every embedded migration is
    /// recorded as applied successfully.
    async fn readiness(&self) -> Result<(), String> {
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| format!("database unreachable: {e}"))?;
        for migration in MIGRATOR.iter() {
            let ok = applied
                .iter()
                .any(|(version, success)| *version == migration.version && *success);
            if !ok {
                return Err(format!(
                    "migration {} ({}) not applied",
                    migration.version, migration.description
                ));
            }
        }
        Ok(())
    }

    /// Appends one line to the audit log.
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        outcome: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(chrono::Utc::now())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(outcome)
        .bind(detail.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
