//! RSA signing keys for the emulated token issuers (Entra, Bot Framework).
//! Generated fresh for every sandbox; never written anywhere.

use std::sync::{Arc, RwLock, RwLockReadGuard};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    n: String,
    e: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a 2048-bit RSA key with the given key id.
    pub fn generate(kid: impl Into<String>) -> Self {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key generation");
        let pem = private
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PEM encoding");
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("valid RSA PEM");
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        let decoding = DecodingKey::from_rsa_components(&n, &e).expect("valid RSA components");
        Self {
            kid: kid.into(),
            encoding,
            decoding,
            n,
            e,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, in the shape Entra's `discovery/v2.0/keys` uses.
    /// `extra` is merged in (for example Bot Framework `endorsements`).
    pub fn public_jwk(&self, extra: Value) -> Value {
        let mut jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": self.n,
            "e": self.e,
        });
        if let (Some(obj), Value::Object(more)) = (jwk.as_object_mut(), extra) {
            obj.extend(more);
        }
        jwk
    }

    /// Signs `claims` as an RS256 JWT with this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("JWT signing")
    }

    /// Verifies an RS256 JWT signed by this key and decodes its claims.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        if header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(jsonwebtoken::errors::ErrorKind::InvalidSignature.into());
        }
        jsonwebtoken::decode::<T>(token, &self.decoding, validation).map(|d| d.claims)
    }
}

/// The signing keys an issuer publishes in its JWKS, oldest first; it signs
/// with the newest. Entra "roll[s] over on a periodic basis and, in an
/// emergency, could be rolled over immediately", and its keys document
/// keeps more than one valid key, so a rotation publishes a new key and
/// keeps the previous ones (the last [`PublishedKeys::KEPT`]) unless it is
/// an emergency.
pub struct PublishedKeys {
    prefix: String,
    keys: RwLock<Vec<Arc<SigningKey>>>,
}

impl std::fmt::Debug for PublishedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedKeys")
            .field("kids", &self.kids())
            .finish()
    }
}

impl PublishedKeys {
    /// How many keys a rotation leaves published.
    pub const KEPT: usize = 3;

    /// One fresh key, with key ids `{prefix}{random}`.
    pub fn generate(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            keys: RwLock::new(vec![Arc::new(SigningKey::generate(random_kid(prefix)))]),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<Arc<SigningKey>>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> Arc<SigningKey> {
        Arc::clone(self.read().last().expect("at least one key"))
    }

    /// Every published key, oldest first.
    pub fn published(&self) -> Vec<Arc<SigningKey>> {
        self.read().clone()
    }

    pub fn kids(&self) -> Vec<String> {
        self.read().iter().map(|k| k.kid().to_owned()).collect()
    }

    /// Publishes a new key and signs with it from now on. `emergency`
    /// withdraws every previous key at once (tokens they signed stop
    /// verifying); otherwise the last few stay published.
    pub fn rotate(&self, emergency: bool) -> Arc<SigningKey> {
        // Generated outside the lock: RSA key generation is slow.
        let key = Arc::new(SigningKey::generate(random_kid(&self.prefix)));
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if emergency {
            keys.clear();
        }
        keys.push(Arc::clone(&key));
        let excess = keys.len().saturating_sub(Self::KEPT);
        keys.drain(..excess);
        key
    }

    /// Verifies a token signed by any published key (chosen by its `kid`).
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        let key = self
            .read()
            .iter()
            .find(|k| header.kid.as_deref() == Some(k.kid()))
            .cloned()
            .ok_or(jsonwebtoken::errors::ErrorKind::InvalidSignature)?;
        key.verify(token, validation)
    }
}

fn random_kid(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifies(keys: &PublishedKeys, token: &str) -> bool {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        keys.verify::<Value>(token, &validation).is_ok()
    }

    #[test]
    fn a_rollover_keeps_the_last_keys_published_and_an_emergency_withdraws_them() {
        let keys = PublishedKeys::generate("t-");
        let first = keys.current().sign(&json!({ "n": 1 }));
        let second_key = keys.rotate(false);
        assert_eq!(
            keys.current().kid(),
            second_key.kid(),
            "signs with the new key"
        );
        assert!(verifies(&keys, &first), "the previous key stays published");
        for _ in 0..PublishedKeys::KEPT - 1 {
            keys.rotate(false);
        }
        assert_eq!(keys.kids().len(), PublishedKeys::KEPT);
        assert!(!verifies(&keys, &first), "the oldest key fell off");
        let recent = keys.current().sign(&json!({ "n": 2 }));
        keys.rotate(true);
        assert_eq!(keys.kids().len(), 1);
        assert!(!verifies(&keys, &recent), "an emergency withdraws at once");
    }
}
