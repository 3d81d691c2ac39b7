//! Account links, link tokens and sign-in flows (SQL for `identity`).

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError};

/// Who someone is in chat: platform, workspace (tenant or Slack team), user.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ChatIdentity {
    pub platform: String,
    pub workspace: String,
    pub user: String,
}

impl std::fmt::Display for ChatIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.platform, self.workspace, self.user)
    }
}

#[derive(Debug, Clone)]
pub struct LinkRow {
    pub identity: ChatIdentity,
    pub object_id: String,
    pub display_name: String,
    pub refresh_token: Vec<u8>,
    pub key_id: String,
}

/// A consumed link token or sign-in flow.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub identity: ChatIdentity,
    pub claims: Option<String>,
    pub resume: Option<String>,
    /// Only for flows: the sealed PKCE verifier and the nonce.
    pub code_verifier: Vec<u8>,
    pub nonce: String,
}

impl Store {
    pub async fn insert_link_token(
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

    /// Marks the token used and returns it, if it exists, is unused and unexpired.
    pub async fn consume_link_token(
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
            identity: ChatIdentity {
                platform: r.get("platform"),
                workspace: r.get("workspace"),
                user: r.get("chat_user"),
            },
            claims: r.get("claims"),
            resume: r.get("resume"),
            code_verifier: Vec::new(),
            nonce: String::new(),
        }))
    }

    pub async fn insert_auth_flow(
        &self,
        state_hash: &str,
        flow: &PendingSignIn,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_flows (state_hash, platform, workspace, chat_user, code_verifier, nonce, claims, resume, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(state_hash)
        .bind(&flow.identity.platform)
        .bind(&flow.identity.workspace)
        .bind(&flow.identity.user)
        .bind(&flow.code_verifier)
        .bind(&flow.nonce)
        .bind(&flow.claims)
        .bind(&flow.resume)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn consume_auth_flow(
        &self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignIn>, StoreError> {
        let row = sqlx::query(
            "UPDATE auth_flows SET used_at = ?1
             WHERE state_hash = ?2 AND used_at IS NULL AND expires_at > ?1
             RETURNING platform, workspace, chat_user, code_verifier, nonce, claims, resume",
        )
        .bind(now)
        .bind(state_hash)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| PendingSignIn {
            identity: ChatIdentity {
                platform: r.get("platform"),
                workspace: r.get("workspace"),
                user: r.get("chat_user"),
            },
            claims: r.get("claims"),
            resume: r.get("resume"),
            code_verifier: r.get("code_verifier"),
            nonce: r.get("nonce"),
        }))
    }

    pub async fn upsert_link(&self, link: &LinkRow, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO links (platform, workspace, chat_user, object_id, display_name, refresh_token, key_id, linked_at, refreshed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (platform, workspace, chat_user) DO UPDATE SET
               object_id = excluded.object_id, display_name = excluded.display_name,
               refresh_token = excluded.refresh_token, key_id = excluded.key_id,
               linked_at = excluded.linked_at, refreshed_at = excluded.refreshed_at,
               mfa_at = NULL",
        )
        .bind(&link.identity.platform)
        .bind(&link.identity.workspace)
        .bind(&link.identity.user)
        .bind(&link.object_id)
        .bind(&link.display_name)
        .bind(&link.refresh_token)
        .bind(&link.key_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn link(&self, who: &ChatIdentity) -> Result<Option<LinkRow>, StoreError> {
        let row = sqlx::query(
            "SELECT object_id, display_name, refresh_token, key_id FROM links
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
        }))
    }

    /// Replaces the stored refresh token after a rotation.
    pub async fn update_refresh_token(
        &self,
        who: &ChatIdentity,
        sealed: &[u8],
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE links SET refresh_token = ?, key_id = ?, refreshed_at = ?
             WHERE platform = ? AND workspace = ? AND chat_user = ?",
        )
        .bind(sealed)
        .bind(key_id)
        .bind(now)
        .bind(&who.platform)
        .bind(&who.workspace)
        .bind(&who.user)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Removes the link and its stored token; true if there was one.
    pub async fn delete_link(&self, who: &ChatIdentity) -> Result<bool, StoreError> {
        let result =
            sqlx::query("DELETE FROM links WHERE platform = ? AND workspace = ? AND chat_user = ?")
                .bind(&who.platform)
                .bind(&who.workspace)
                .bind(&who.user)
                .execute(self.pool())
                .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Records a completed multifactor sign-in of a linked person.
    pub async fn set_mfa_at(
        &self,
        who: &ChatIdentity,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
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

    /// When the linked person last completed MFA, if ever (since linking).
    pub async fn mfa_at(&self, who: &ChatIdentity) -> Result<Option<DateTime<Utc>>, StoreError> {
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
