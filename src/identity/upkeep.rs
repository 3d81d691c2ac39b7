//! Keeping the identity tables healthy: re-sealing stored refresh tokens
//! with the primary key and the current associated data (key rotation and
//! upgrades), and purging spent sign-in state.

use chrono::Utc;

use super::link::{LinkError, LinkService};
use super::vault::{
    REFRESH_TOKEN_AAD_VERSION, VaultError, refresh_token_aad, refresh_token_aad_v1,
};
use crate::store::links::LinkRow;

/// What a re-sealing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Rows moved to the primary key and the current associated data.
    pub moved: usize,
    /// Rows that could not be opened (a key missing from the ring, or a
    /// token that does not belong to its row); their people sign in again.
    pub unopenable: usize,
}

impl LinkService {
    /// Re-seals every stored refresh token sealed with another key than
    /// the primary, or with older associated data. Runs at start-up, before
    /// the bot serves, and daily; safe to run on several replicas at once
    /// (each row is replaced only if unchanged since it was read).
    pub async fn reseal_all(&self) -> Result<Resealed, LinkError> {
        let primary = self.vault.primary_key_id().to_owned();
        let rows = self
            .store
            .links_to_reseal(&primary, REFRESH_TOKEN_AAD_VERSION)
            .await?;
        let mut report = Resealed::default();
        for row in rows {
            let aad = self.aad_of(&row);
            let token = match self.vault.open(&row.refresh_token, &aad) {
                Ok(token) => token,
                Err(error) => {
                    report.unopenable += 1;
                    log_unopenable_row(&row, &error);
                    continue;
                }
            };
            let current = refresh_token_aad(&self.tenant_id, &row.object_id, &row.identity);
            let sealed = self.vault.seal(&token, &current);
            if self
                .store
                .reseal_link(&row, &sealed, &primary, REFRESH_TOKEN_AAD_VERSION)
                .await?
            {
                report.moved += 1;
            }
        }
        if report.moved > 0 || report.unopenable > 0 {
            tracing::info!(
                moved = report.moved,
                unopenable = report.unopenable,
                primary_key = %primary,
                "re-sealed stored refresh tokens"
            );
        }
        Ok(report)
    }

    /// Deletes expired link tokens and sign-in flows.
    pub async fn purge_expired(&self) -> Result<(), LinkError> {
        let purged = self.store.purge_sign_ins(Utc::now()).await?;
        if purged.link_tokens + purged.auth_flows > 0 {
            tracing::debug!(
                link_tokens = purged.link_tokens,
                auth_flows = purged.auth_flows,
                "purged expired sign-in state"
            );
        }
        Ok(())
    }

    fn aad_of(&self, row: &LinkRow) -> Vec<u8> {
        if row.aad_version < 2 {
            refresh_token_aad_v1(&self.tenant_id, &row.object_id)
        } else {
            refresh_token_aad(&self.tenant_id, &row.object_id, &row.identity)
        }
    }
}

fn log_unopenable_row(row: &LinkRow, error: &VaultError) {
    match error {
        VaultError::MissingKey(key_id) => tracing::error!(
            %key_id,
            platform = %row.identity.platform,
            "cannot re-seal a stored refresh token: its vault key is not in identity.vault_keys; \
             put the key back in the ring, or the person must sign in again"
        ),
        other => tracing::error!(
            error = %other,
            platform = %row.identity.platform,
            "cannot re-seal a stored refresh token: it does not open with its row's associated data \
             (the row was altered); the person must sign in again"
        ),
    }
}
