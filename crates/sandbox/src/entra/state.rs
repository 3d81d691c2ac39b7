//! Entra's mutable state: sign-ins in progress, authorization codes, refresh
//! tokens, browser sessions and per-user revocation. Codes, refresh tokens
//! and session cookies are kept only as SHA-256 digests; their values exist
//! nowhere but in the response that issued them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest as _, Sha256};

use super::authorize::Pending;

/// Entra's authorization codes live about ten minutes.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Refresh tokens expire after 90 days without use.
pub const REFRESH_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// A sign-in page left open longer than this must be restarted.
pub const PENDING_LIFETIME: Duration = Duration::from_secs(3600);

pub type Digest = [u8; 32];

pub fn digest(secret: &str) -> Digest {
    Sha256::digest(secret.as_bytes()).into()
}

/// An unguessable opaque value (`bytes` random bytes, base64url).
pub fn new_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// How a person authenticated: carried from the sign-in page into codes,
/// refresh tokens and the session, so every token shows the same `amr`,
/// `acrs` and `auth_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authn {
    pub user_id: String,
    pub mfa: bool,
    /// Authentication contexts satisfied (`c1` …).
    pub acrs: Vec<String>,
    /// Unix seconds of the interactive sign-in.
    pub auth_time: i64,
    /// The user's revocation generation when they signed in.
    pub epoch: u64,
}

#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub authn: Authn,
    pub graph_scopes: Vec<String>,
    pub oidc_scopes: Vec<String>,
    pub nonce: Option<String>,
    pub issued: Instant,
    pub redeemed: bool,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub authn: Authn,
    pub graph_scopes: Vec<String>,
    pub oidc_scopes: Vec<String>,
    pub issued: Instant,
    pub issued_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub authn: Authn,
}

pub struct EntraState {
    pub(super) pending: HashMap<String, Pending>,
    pub(super) codes: HashMap<Digest, CodeGrant>,
    pub(super) refresh_tokens: HashMap<Digest, RefreshGrant>,
    pub(super) sessions: HashMap<Digest, Session>,
    /// Per-user revocation generation and when it last moved.
    revocations: HashMap<String, (u64, chrono::DateTime<chrono::Utc>)>,
    code_lifetime: Duration,
    /// Every credential handed out (codes, access, ID and refresh tokens),
    /// newest last, so tests can prove none of them leaks anywhere.
    issued: std::collections::VecDeque<String>,
}

/// How many issued credentials [`EntraState::issued`] keeps.
const ISSUED_KEPT: usize = 100_000;

impl Default for EntraState {
    fn default() -> Self {
        Self {
            pending: HashMap::new(),
            codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            sessions: HashMap::new(),
            revocations: HashMap::new(),
            code_lifetime: CODE_LIFETIME,
            issued: std::collections::VecDeque::new(),
        }
    }
}

// Only counts: the maps hold digests and sign-in details, nothing a log needs.
impl std::fmt::Debug for EntraState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraState")
            .field("pending", &self.pending.len())
            .field("codes", &self.codes.len())
            .field("refresh_tokens", &self.refresh_tokens.len())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl EntraState {
    /// Remembers a credential the emulator issued (sandbox-only record).
    pub fn record_issued(&mut self, credential: &str) {
        if self.issued.len() == ISSUED_KEPT {
            self.issued.pop_front();
        }
        self.issued.push_back(credential.to_owned());
    }

    /// Every credential issued so far (bounded to the latest 100 000).
    pub fn issued(&self) -> impl Iterator<Item = &str> {
        self.issued.iter().map(String::as_str)
    }

    /// Sets how long authorization codes stay redeemable. Tests use a zero
    /// lifetime to see expiry without waiting ten minutes.
    pub fn set_code_lifetime(&mut self, lifetime: Duration) {
        self.code_lifetime = lifetime;
    }

    pub fn code_lifetime(&self) -> Duration {
        self.code_lifetime
    }

    /// The user's current revocation generation.
    pub fn epoch(&self, user_id: &str) -> u64 {
        self.revocations.get(user_id).map_or(0, |(e, _)| *e)
    }

    /// When the user's tokens were last revoked (`TokensValidFrom`).
    pub fn valid_from(&self, user_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.revocations.get(user_id).map(|(_, t)| *t)
    }

    /// Invalidates every refresh token and browser session of `user_id`
    /// issued so far, as Graph's `revokeSignInSessions` does.
    pub fn revoke_user(&mut self, user_id: &str) {
        let entry = self
            .revocations
            .entry(user_id.to_owned())
            .or_insert((0, chrono::Utc::now()));
        entry.0 += 1;
        entry.1 = chrono::Utc::now();
        self.sessions.retain(|_, s| s.authn.user_id != user_id);
    }

    /// Stores a code and returns its value.
    pub fn issue_code(&mut self, grant: CodeGrant) -> String {
        let lifetime = self.code_lifetime;
        // Keep spent and expired codes for an hour so a late replay still
        // gets "already redeemed" / "expired" rather than "malformed".
        self.codes
            .retain(|_, c| c.issued.elapsed() < lifetime + Duration::from_secs(3600));
        let code = format!("0.A{}", new_secret(48));
        self.codes.insert(digest(&code), grant);
        self.record_issued(&code);
        code
    }

    pub fn issue_refresh_token(&mut self, grant: RefreshGrant) -> String {
        self.refresh_tokens
            .retain(|_, r| r.issued.elapsed() < REFRESH_LIFETIME);
        let token = format!("1.A{}", new_secret(64));
        self.refresh_tokens.insert(digest(&token), grant);
        token
    }

    pub fn open_session(&mut self, authn: Authn) -> String {
        let cookie = new_secret(32);
        self.sessions.insert(digest(&cookie), Session { authn });
        cookie
    }

    pub fn session(&self, cookie: &str) -> Option<&Session> {
        self.sessions.get(&digest(cookie))
    }

    pub fn insert_pending(&mut self, pending: Pending) -> String {
        self.pending
            .retain(|_, p| p.created.elapsed() < PENDING_LIFETIME);
        let ctx = new_secret(24);
        self.pending.insert(ctx.clone(), pending);
        ctx
    }

    pub fn pending_mut(&mut self, ctx: &str) -> Option<&mut Pending> {
        self.pending
            .get_mut(ctx)
            .filter(|p| p.created.elapsed() < PENDING_LIFETIME)
    }

    pub fn take_pending(&mut self, ctx: &str) -> Option<Pending> {
        self.pending
            .remove(ctx)
            .filter(|p| p.created.elapsed() < PENDING_LIFETIME)
    }
}
