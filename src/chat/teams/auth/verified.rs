//! Tokens whose signature has already been verified.
//!
//! The Bot Connector signs one token and puts it on every activity it sends
//! the bot until the token nears expiry (an hour), and an RSA signature check
//! was most of the bot's CPU per activity (`stagegate bench`: ~60 % of the
//! Teams endpoint's time in `num_bigint_dig` montgomery multiplication). So a
//! token is verified once, and later the *identical* token (same bytes, by
//! SHA-256) skips only the signature check: the key must still be the very
//! key that verified it (a refetched key set invalidates every entry), and
//! `exp`/`nbf` are checked again on every use. Issuer and audience are
//! properties of the bytes, which are the same.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::keys::CachedKey;

/// Verified tokens remembered at most (the connector uses a handful at once).
const CAPACITY: usize = 4096;

struct Entry {
    key: Arc<CachedKey>,
    service_url: String,
    not_before: Option<u64>,
    expires: u64,
}

#[derive(Default)]
pub(super) struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedTokens(..)")
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The `serviceurl` claim of `token` if it was verified with `key` and
    /// is within its validity (± `leeway` seconds) at `now` (Unix seconds).
    pub(super) fn lookup(
        &self,
        token: &str,
        key: &Arc<CachedKey>,
        now: u64,
        leeway: u64,
    ) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&digest(token))?;
        let valid = Arc::ptr_eq(&entry.key, key)
            && now < entry.expires.saturating_add(leeway)
            && entry
                .not_before
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway));
        valid.then(|| entry.service_url.clone())
    }

    /// Remembers a token that passed every check with `key`.
    pub(super) fn insert(
        &self,
        token: &str,
        key: Arc<CachedKey>,
        service_url: String,
        not_before: Option<u64>,
        expires: u64,
        now: u64,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| now < e.expires);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            digest(token),
            Entry {
                key,
                service_url,
                not_before,
                expires,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Arc<CachedKey> {
        Arc::new(CachedKey {
            decoding: jsonwebtoken::DecodingKey::from_secret(b"unused"),
            endorsements: vec!["msteams".into()],
        })
    }

    #[test]
    fn only_the_identical_token_with_the_same_key_within_its_validity_hits() {
        let cache = VerifiedTokens::default();
        let k = key();
        cache.insert(
            "a.b.c",
            k.clone(),
            "https://svc/".into(),
            Some(100),
            200,
            150,
        );
        assert_eq!(
            cache.lookup("a.b.c", &k, 150, 0).as_deref(),
            Some("https://svc/")
        );
        assert_eq!(cache.lookup("a.b.d", &k, 150, 0), None, "other bytes");
        assert_eq!(
            cache.lookup("a.b.c", &key(), 150, 0),
            None,
            "a refetched key"
        );
        assert_eq!(cache.lookup("a.b.c", &k, 200, 0), None, "expired");
        assert!(
            cache.lookup("a.b.c", &k, 250, 300).is_some(),
            "within the skew"
        );
        assert_eq!(cache.lookup("a.b.c", &k, 50, 0), None, "not yet valid");
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first() {
        let cache = VerifiedTokens::default();
        let k = key();
        for i in 0..CAPACITY {
            cache.insert(&format!("t{i}"), k.clone(), String::new(), None, 10, 0);
        }
        cache.insert("fresh", k.clone(), String::new(), None, 1000, 20);
        assert!(cache.lookup("fresh", &k, 20, 0).is_some());
        assert_eq!(
            cache.lookup("t0", &k, 5, 0),
            None,
            "expired ones were dropped"
        );
    }
}
