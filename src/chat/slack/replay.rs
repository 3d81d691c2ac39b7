//! Slack's replay guard: a verified request acts once. The MAC of each
//! accepted request is recorded in the database ([`ReplayLedger`]) until its
//! timestamp leaves the ±300 s window, after which the verifier refuses the
//! request anyway. Only the SHA-256 of the MAC is stored, so the table holds
//! nothing that could be sent back as a signature.

use sha2::{Digest, Sha256};

use super::verify::{MAX_SKEW_SECONDS, VerifiedRequest};
use crate::store::replay::{ReplayLedger, ReplayScope};
use std::sync::Arc;

use crate::store::{ReplayStore, StoreError};

#[derive(Debug)]
pub struct ReplayGuard {
    ledger: ReplayLedger,
}

impl ReplayGuard {
    #[must_use]
    pub fn new(store: Arc<dyn ReplayStore>) -> Self {
        Self {
            ledger: ReplayLedger::new(store, ReplayScope::Slack),
        }
    }

    /// True the first time a request is seen; false for a replay.
    pub async fn first_sight(&self, request: &VerifiedRequest) -> Result<bool, StoreError> {
        self.first_sight_at(chrono::Utc::now().timestamp(), request)
            .await
    }

    /// [`ReplayGuard::first_sight`] as if the time were `now` (Unix seconds).
    pub async fn first_sight_at(
        &self,
        now: i64,
        request: &VerifiedRequest,
    ) -> Result<bool, StoreError> {
        let digest: [u8; 32] = Sha256::digest(request.mac()).into();
        self.ledger
            .first_sight(&digest, request.timestamp + MAX_SKEW_SECONDS, now)
            .await
    }
}
