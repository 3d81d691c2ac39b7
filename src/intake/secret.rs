//! Shared secrets compared in constant time.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A configured secret and its SHA-256. Candidates are hashed and the
/// digests compared with `subtle`, so neither the content nor the length of
/// the secret leaks through timing.
#[derive(Clone)]
pub struct Secret {
    value: SecretString,
    digest: [u8; 32],
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Secret {
    pub fn new(value: &SecretString) -> Self {
        let digest = Sha256::digest(value.expose_secret().as_bytes()).into();
        Self {
            value: value.clone(),
            digest,
        }
    }

    #[must_use]
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate).into();
        digest.ct_eq(&self.digest).into()
    }

    /// The secret itself, only for sending it where it belongs (Graph's
    /// `clientState` on subscription creation).
    pub fn expose(&self) -> &str {
        self.value.expose_secret()
    }

    /// Hex SHA-256, stored to notice a rotated secret without storing it.
    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_secret() {
        let s = Secret::new(&SecretString::from("correct horse battery staple"));
        assert!(s.matches(b"correct horse battery staple"));
        assert!(!s.matches(b"correct horse battery stapl"));
        assert!(!s.matches(b"correct horse battery staple "));
        assert!(!s.matches(b""));
        assert!(!format!("{s:?}").contains("horse"));
        assert_eq!(s.digest_hex().len(), 64);
    }
}
