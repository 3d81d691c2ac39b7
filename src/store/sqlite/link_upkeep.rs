//! Upkeep of the identity tables: purging spent sign-in state, and the
//! rows the vault must re-seal (another key, older associated data).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use super::links::identity_of;
use crate::store::StoreError;
use crate::store::link_upkeep::{LinkUpkeepStore, Purged};
use crate::store::links::LinkRow;

#[async_trait]
impl LinkUpkeepStore for SqliteStore {
    async fn purge_sign_ins(&self, now: DateTime<Utc>) -> Result<Purged, StoreError> {
        let link_tokens = sqlx::query("DELETE FROM link_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        let auth_flows = sqlx::query("DELETE FROM auth_flows WHERE expires_at <= ?")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(Purged {
            link_tokens,
            auth_flows,
        })
    }

    async fn links_to_reseal(
        &self,
        primary_key_id: &str,
        aad_version: i64,
    ) -> Result<Vec<LinkRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT platform, workspace, chat_user, object_id, display_name, refresh_token, key_id, aad_version
             FROM links WHERE key_id <> ? OR aad_version < ?",
        )
        .bind(primary_key_id)
        .bind(aad_version)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| LinkRow {
                identity: identity_of(r),
                object_id: r.get("object_id"),
                display_name: r.get("display_name"),
                refresh_token: r.get("refresh_token"),
                key_id: r.get("key_id"),
                aad_version: r.get("aad_version"),
            })
            .collect())
    }

    async fn reseal_link(
        &self,
        old: &LinkRow,
        sealed: &[u8],
        key_id: &str,
        aad_version: i64,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE links SET refresh_token = ?, key_id = ?, aad_version = ?
             WHERE platform = ? AND workspace = ? AND chat_user = ? AND refresh_token = ?",
        )
        .bind(sealed)
        .bind(key_id)
        .bind(aad_version)
        .bind(&old.identity.platform)
        .bind(&old.identity.workspace)
        .bind(&old.identity.user)
        .bind(&old.refresh_token)
        .execute(self.pool())
        .await?;
        Ok(result.rows_affected() > 0)
    }
}
