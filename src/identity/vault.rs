//! Encryption at rest for refresh tokens: XChaCha20-Poly1305 with a key ring.
//!
//! A sealed value is `key_id_len ‖ key_id ‖ nonce (24 bytes) ‖ ciphertext`,
//! so a ring can hold old keys for reading while new values are sealed with
//! the primary key (rotation; the re-sealing job in `identity::upkeep`
//! moves old values to it). The tenant and user are bound as associated
//! data with the chat identity: a ciphertext copied onto another row does
//! not open.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::chat::identity::ChatIdentity;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("key `{0}` must be 32 bytes of base64 (e.g. `openssl rand -base64 32`)")]
    BadKey(String),
    #[error("the key ring is empty; configure at least one key")]
    Empty,
    #[error("primary key `{0}` is not in the key ring")]
    UnknownPrimary(String),
    #[error("key id `{0}` must be 1–64 characters of [A-Za-z0-9_-]")]
    BadKeyId(String),
    #[error("sealed value was made with key `{0}`, which is not in the key ring")]
    MissingKey(String),
    #[error("sealed value is corrupt or belongs to someone else")]
    Corrupt,
}

pub struct KeyRing {
    keys: BTreeMap<String, SecretBox<[u8; 32]>>,
    primary: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("primary", &self.primary)
            .finish()
    }
}

impl KeyRing {
    /// `keys` maps key id → base64 of 32 random bytes; `primary` seals.
    pub fn new(keys: &BTreeMap<String, SecretString>, primary: &str) -> Result<Self, VaultError> {
        if keys.is_empty() {
            return Err(VaultError::Empty);
        }
        let mut ring = BTreeMap::new();
        for (id, encoded) in keys {
            if id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(VaultError::BadKeyId(id.clone()));
            }
            let bytes = STANDARD
                .decode(encoded.expose_secret().trim())
                .map_err(|_| VaultError::BadKey(id.clone()))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| VaultError::BadKey(id.clone()))?;
            ring.insert(id.clone(), SecretBox::new(Box::new(key)));
        }
        if !ring.contains_key(primary) {
            return Err(VaultError::UnknownPrimary(primary.to_owned()));
        }
        Ok(Self {
            keys: ring,
            primary: primary.to_owned(),
        })
    }

    pub fn primary_key_id(&self) -> &str {
        &self.primary
    }

    /// Encrypts `plaintext` with the primary key, bound to `aad`.
    pub fn seal(&self, plaintext: &SecretString, aad: &[u8]) -> Vec<u8> {
        let key = self
            .keys
            .get(&self.primary)
            .expect("primary key is in the ring");
        let cipher = XChaCha20Poly1305::new(&Key::from(*key.expose_secret()));
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.expose_secret().as_bytes(),
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory input");
        let mut out = Vec::with_capacity(1 + self.primary.len() + NONCE_LEN + ciphertext.len());
        out.push(self.primary.len() as u8);
        out.extend_from_slice(self.primary.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a sealed value with whichever ring key sealed it.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretString, VaultError> {
        let (&id_len, rest) = sealed.split_first().ok_or(VaultError::Corrupt)?;
        let id_len = id_len as usize;
        if rest.len() < id_len + NONCE_LEN {
            return Err(VaultError::Corrupt);
        }
        let key_id = std::str::from_utf8(&rest[..id_len]).map_err(|_| VaultError::Corrupt)?;
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| VaultError::MissingKey(key_id.to_owned()))?;
        let nonce_bytes: [u8; NONCE_LEN] = rest[id_len..id_len + NONCE_LEN]
            .try_into()
            .map_err(|_| VaultError::Corrupt)?;
        let nonce = &XNonce::from(nonce_bytes);
        let cipher = XChaCha20Poly1305::new(&Key::from(*key.expose_secret()));
        let plaintext = cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &rest[id_len + NONCE_LEN..],
                    aad,
                },
            )
            .map_err(|_| VaultError::Corrupt)?;
        String::from_utf8(plaintext)
            .map(SecretString::from)
            .map_err(|_| VaultError::Corrupt)
    }

    /// The key id a sealed value was made with (for the re-encryption job).
    pub fn key_id_of(sealed: &[u8]) -> Option<&str> {
        let (&len, rest) = sealed.split_first()?;
        std::str::from_utf8(rest.get(..len as usize)?).ok()
    }
}

/// The version of [`refresh_token_aad`] new seals use.
pub const REFRESH_TOKEN_AAD_VERSION: i64 = 2;

/// Associated data binding a refresh token to its tenant, its Entra user
/// and the chat identity that acts as them: a sealed token copied onto
/// another person's row, or onto another chat account's row of the same
/// person, does not open.
pub fn refresh_token_aad(tenant_id: &str, object_id: &str, who: &ChatIdentity) -> Vec<u8> {
    format!(
        "stagegate/refresh-token/v2/{tenant_id}/{object_id}/{}/{}/{}",
        who.platform, who.workspace, who.user
    )
    .into_bytes()
}

/// The associated data of version 1 (tenant and Entra user only), read
/// once by the re-sealing job to move old rows to version 2.
pub fn refresh_token_aad_v1(tenant_id: &str, object_id: &str) -> Vec<u8> {
    format!("stagegate/refresh-token/v1/{tenant_id}/{object_id}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretString {
        SecretString::from(STANDARD.encode([byte; 32]))
    }

    fn ring(ids: &[(&str, u8)], primary: &str) -> KeyRing {
        let keys = ids
            .iter()
            .map(|(id, b)| (id.to_string(), key(*b)))
            .collect();
        KeyRing::new(&keys, primary).unwrap()
    }

    #[test]
    fn round_trip_and_aad_binding() {
        let ring = ring(&[("k1", 1)], "k1");
        let secret = SecretString::from("0.AAAA-refresh-token".to_owned());
        let slack = |user: &str| ChatIdentity {
            platform: "slack".into(),
            workspace: "T1".into(),
            user: user.into(),
        };
        let aad = refresh_token_aad("t", "alex", &slack("U1"));
        let sealed = ring.seal(&secret, &aad);
        assert!(!sealed.windows(8).any(|w| w == b"refresh-"));
        assert_eq!(
            ring.open(&sealed, &aad).unwrap().expose_secret(),
            "0.AAAA-refresh-token"
        );
        assert_eq!(
            ring.open(&sealed, &refresh_token_aad("t", "miriam", &slack("U1")))
                .err(),
            Some(VaultError::Corrupt)
        );
        // The same person's token on another chat account's row.
        assert_eq!(
            ring.open(&sealed, &refresh_token_aad("t", "alex", &slack("U2")))
                .err(),
            Some(VaultError::Corrupt)
        );
        assert_eq!(
            ring.open(&sealed, &refresh_token_aad_v1("t", "alex")).err(),
            Some(VaultError::Corrupt)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(ring.open(&tampered, &aad).err(), Some(VaultError::Corrupt));
        assert_eq!(ring.open(&[], &aad).err(), Some(VaultError::Corrupt));
    }

    #[test]
    fn rotation_reads_old_and_seals_with_new() {
        let old = ring(&[("k1", 1)], "k1");
        let sealed = old.seal(&SecretString::from("rt".to_owned()), b"x");
        let rotated = ring(&[("k1", 1), ("k2", 2)], "k2");
        assert_eq!(rotated.open(&sealed, b"x").unwrap().expose_secret(), "rt");
        assert_eq!(KeyRing::key_id_of(&sealed), Some("k1"));
        let resealed = rotated.seal(&SecretString::from("rt".to_owned()), b"x");
        assert_eq!(KeyRing::key_id_of(&resealed), Some("k2"));
        let without_k1 = ring(&[("k2", 2)], "k2");
        assert_eq!(
            without_k1.open(&sealed, b"x").err(),
            Some(VaultError::MissingKey("k1".into()))
        );
    }

    #[test]
    fn bad_configuration_is_explained_without_the_key() {
        let mut keys = BTreeMap::new();
        keys.insert("k1".to_string(), SecretString::from("c2hvcnQ=".to_owned()));
        let err = KeyRing::new(&keys, "k1").unwrap_err().to_string();
        assert!(err.contains("32 bytes") && !err.contains("c2hvcnQ"));
        assert_eq!(
            KeyRing::new(&BTreeMap::new(), "k1").unwrap_err(),
            VaultError::Empty
        );
        let keys: BTreeMap<_, _> = [("k1".to_string(), key(1))].into();
        assert_eq!(
            KeyRing::new(&keys, "k9").unwrap_err(),
            VaultError::UnknownPrimary("k9".into())
        );
        assert!(
            !format!("{:?}", KeyRing::new(&keys, "k1").unwrap())
                .contains(&STANDARD.encode([1u8; 32]))
        );
    }
}
