//! Account links, link tokens and sign-in flows (SQL for `identity`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use crate::chat::identity::ChatIdentity;
use crate::store::StoreError;
use crate::store::links::{LinkRow, LinkStore, PendingSignIn};

/// The chat identity of a row with `platform`, `workspace`, `chat_user`.
pub(super) fn identity_of(row: &sqlx::sqlite::SqliteRow) -> ChatIdentity {
    ChatIdentity {
        platform: row.get("platform"),
        workspace: row.get("workspace"),
        user: row.get("chat_user"),
    }
}

#[async_trait]
impl LinkStore for SqliteStore {
    async fn insert_link_token(
        &self,
        token_hash: &str,
        who: &ChatIdentity,
        claims: Option<&str>,
        resume: Option<&str>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO link_tokens (token_hash, platform, workspace, chat_user, claims, resume, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .bind(claims)
        .bind(resume)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn claim_link_token(
        &self,
        token_hash: &str,
        who: &ChatIdentity,
        purpose: &str,
        claims: Option<&str>,
        resume: Option<&str>,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<String>>, StoreError> {
        let mut tx = self.pool().begin().await?;
        // A write first: the transaction holds the write lock from here.
        let live = sqlx::query(
            "UPDATE link_tokens SET reuses = reuses + 1
             WHERE token_hash = (
                 SELECT token_hash FROM link_tokens
                 WHERE platform = ?1 AND workspace = ?2 AND chat_user = ?3 AND purpose = ?4
                   AND claims IS ?5 AND used_at IS NULL AND expires_at > ?6
                   AND purpose IS NOT NULL
                 ORDER BY expires_at DESC LIMIT 1)
             RETURNING token_hash, resume",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .bind(purpose)
        .bind(claims)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = if let Some(row) = live {
            let existing: String = row.get("token_hash");
            let previous: Option<String> = row.get("resume");
            sqlx::query("UPDATE link_tokens SET resume = ? WHERE token_hash = ?")
                .bind(resume)
                .bind(&existing)
                .execute(&mut *tx)
                .await?;
            Some(previous)
        } else {
            sqlx::query(
                "INSERT INTO link_tokens (token_hash, platform, workspace, chat_user, claims, resume, expires_at, purpose)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(token_hash)
            .bind(&who.platform)
            .bind(&who.workspace)
            .bind(&who.user)
            .bind(claims)
            .bind(resume)
            .bind(expires_at)
            .bind(purpose)
            .execute(&mut *tx)
            .await?;
            None
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn void_link_token(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM link_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn live_link_tokens(
        &self,
        who: &ChatIdentity,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM link_tokens
             WHERE platform = ? AND workspace = ? AND chat_user = ? AND used_at IS NULL AND expires_at > ?",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(count)
    }

    async fn consume_link_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignIn>, StoreError> {
        let row = sqlx::query(
            "UPDATE link_tokens SET used_at = ?1
             WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1
             RETURNING platform, workspace, chat_user, claims, resume",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| PendingSignIn {
            identity: identity_of(&r),
            claims: r.get("claims"),
            resume: r.get("resume"),
            code_verifier: Vec::new(),
            nonce: String::new(),
            browser_hash: String::new(),
        }))
    }

    async fn peek_link_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatIdentity>, StoreError> {
        let row = sqlx::query(
            "SELECT platform, workspace, chat_user FROM link_tokens
             WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| identity_of(&r)))
    }

    async fn insert_auth_flow(
        &self,
        state_hash: &str,
        flow: &PendingSignIn,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_flows (state_hash, platform, workspace, chat_user, code_verifier, nonce, claims, resume, browser_hash, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(state_hash)
        .bind(&flow.identity.platform)
        .bind(&flow.identity.workspace)
        .bind(&flow.identity.user)
        .bind(&flow.code_verifier)
        .bind(&flow.nonce)
        .bind(&flow.claims)
        .bind(&flow.resume)
        .bind(&flow.browser_hash)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn consume_auth_flow(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignIn>, StoreError> {
        let row = sqlx::query(
            "UPDATE auth_flows SET used_at = ?1
             WHERE state_hash = ?2 AND used_at IS NULL AND expires_at > ?1
             RETURNING platform, workspace, chat_user, code_verifier, nonce, claims, resume, browser_hash",
        )
        .bind(now)
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| PendingSignIn {
            identity: identity_of(&r),
            claims: r.get("claims"),
            resume: r.get("resume"),
            code_verifier: r.get("code_verifier"),
            nonce: r.get("nonce"),
            browser_hash: r.get("browser_hash"),
        }))
    }

    async fn upsert_link(&self, link: &LinkRow, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO links (platform, workspace, chat_user, object_id, display_name, refresh_token, key_id, linked_at, refreshed_at, aad_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9)
             ON CONFLICT (platform, workspace, chat_user) DO UPDATE SET
               object_id = excluded.object_id, display_name = excluded.display_name,
               refresh_token = excluded.refresh_token, key_id = excluded.key_id,
               linked_at = excluded.linked_at, refreshed_at = excluded.refreshed_at,
               aad_version = excluded.aad_version, mfa_at = NULL",
        )
        .bind(&link.identity.platform)
        .bind(&link.identity.workspace)
        .bind(&link.identity.user)
        .bind(&link.object_id)
        .bind(&link.display_name)
        .bind(&link.refresh_token)
        .bind(&link.key_id)
        .bind(now)
        .bind(link.aad_version)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn link(&self, who: &ChatIdentity) -> Result<Option<LinkRow>, StoreError> {
        let row = sqlx::query(
            "SELECT object_id, display_name, refresh_token, key_id, aad_version FROM links
             WHERE platform = ? AND workspace = ? AND chat_user = ?",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| LinkRow {
            identity: who.clone(),
            object_id: r.get("object_id"),
            display_name: r.get("display_name"),
            refresh_token: r.get("refresh_token"),
            key_id: r.get("key_id"),
            aad_version: r.get("aad_version"),
        }))
    }

    async fn update_refresh_token(
        &self,
        who: &ChatIdentity,
        sealed: &[u8],
        key_id: &str,
        aad_version: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET refresh_token = ?, key_id = ?, refreshed_at = ?, aad_version = ?
             WHERE platform = ? AND workspace = ? AND chat_user = ?",
        )
        .bind(sealed)
        .bind(key_id)
        .bind(now)
        .bind(aad_version)
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn delete_link(&self, who: &ChatIdentity) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut removed = false;
        for table in ["links", "people"] {
            let result = sqlx::query(&format!(
                "DELETE FROM {table} WHERE platform = ? AND workspace = ? AND chat_user = ?"
            ))
            .bind(&who.platform)
            .bind(&who.workspace)
            .bind(&who.user)
            .execute(&mut *tx)
            .await?;
            removed |= table == "links" && result.rows_affected() > 0;
        }
        tx.commit().await?;
        Ok(removed)
    }

    async fn set_mfa_at(&self, who: &ChatIdentity, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET mfa_at = ?4 WHERE platform = ?1 AND workspace = ?2 AND chat_user = ?3",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn mfa_at(&self, who: &ChatIdentity) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
            "SELECT mfa_at FROM links WHERE platform = ? AND workspace = ? AND chat_user = ?",
        )
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .fetch_optional(self.pool())
        .await?;
        Ok(at.flatten())
    }
}
