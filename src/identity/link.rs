//! Account linking: a person's first action sends them a sign-in link;
//! `/auth/start` turns its single-use token into an Entra authorization
//! request (code + PKCE S256, `state`, `nonce`, optional `claims` for
//! step-up); `/auth/callback` redeems the code, validates the ID token and
//! stores the link with the refresh token sealed by the vault.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RefreshToken, Scope, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::discovery::{Discovery, EntraApp, EntraClient, VerifyError};
use super::vault::{KeyRing, REFRESH_TOKEN_AAD_VERSION, VaultError, refresh_token_aad};
use crate::chat::identity::ChatIdentity;
use crate::config::Settings;
use crate::store::links::{LinkRow, PendingSignIn};
use crate::store::{Store, StoreError};

mod mfa;

pub use mfa::MFA_CLAIMS;
use mfa::{EntraIdClaims, demands_fresh_mfa, mfa_evidence};

mod outcomes;

pub use outcomes::{Linked, SignedIn, Started};

/// How long a started sign-in may take before its `state` is void.
const FLOW_LIFETIME_MINUTES: i64 = 15;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("this sign-in link is invalid, already used or expired; ask the bot for a new one")]
    InvalidLinkToken,
    #[error("this sign-in is invalid, already completed or expired; start again from chat")]
    InvalidState,
    /// The callback came to another browser than the one that opened the
    /// sign-in link: a forwarded Entra sign-in address.
    #[error(
        "this sign-in was started in another browser. Sign-in links work only in the browser \
         that opened them; ask the bot for a new link and open it yourself"
    )]
    ForeignBrowser(Box<ChatIdentity>),
    #[error("sign-in was cancelled or refused by Microsoft Entra: {0}")]
    Refused(String),
    #[error("you signed in to another tenant than the one stagegate serves")]
    WrongTenant,
    #[error("you have not linked your account yet")]
    NotLinked,
    #[error("your sign-in has expired or was revoked; sign in again")]
    Reauthenticate,
    #[error("Microsoft Entra could not be reached: {0}")]
    Upstream(String),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
}

/// The outcome of [`LinkService::sign_in_link`].
#[derive(Debug)]
pub enum SignInLink {
    /// A new link, to send to the person.
    New(String),
    /// The person's live link for the same purpose still stands (it was
    /// sent before); it now continues the new resume, and had this one.
    StillValid { previous_resume: Option<String> },
}

pub struct LinkService {
    pub(super) store: Arc<dyn Store>,
    pub(super) vault: Arc<KeyRing>,
    http: reqwest::Client,
    pub(super) tenant_id: String,
    public_base_url: String,
    scopes: Vec<String>,
    link_ttl: Duration,
    slack_email_domains: std::collections::BTreeMap<String, String>,
    /// Entra's endpoints and keys, refreshed daily and on key rollover.
    client: Discovery,
}

impl LinkService {
    pub fn new(settings: &Settings, store: Arc<dyn Store>, vault: Arc<KeyRing>) -> Self {
        let http = reqwest::Client::builder()
            // Following redirects from the token endpoint would open SSRF holes.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(
                settings.graph.timeout_seconds,
            ))
            .build()
            .expect("reqwest client");
        let public = settings
            .server
            .public_base_url
            .trim_end_matches('/')
            .to_owned();
        let client = Discovery::new(http.clone(), EntraApp::from_settings(settings));
        Self {
            store,
            vault,
            http,
            tenant_id: settings.entra.tenant_id.clone(),
            public_base_url: public,
            scopes: settings.identity.scopes.clone(),
            link_ttl: Duration::seconds(settings.identity.link_ttl_seconds as i64),
            slack_email_domains: settings.identity.slack_email_domains.clone(),
            client,
        }
    }

    /// Slack email domain → Entra domain, for checking that a Slack account
    /// and an Entra account are the same person's.
    #[must_use]
    pub fn slack_email_domains(&self) -> &std::collections::BTreeMap<String, String> {
        &self.slack_email_domains
    }

    /// Entra's endpoints, discovered lazily (start-up never depends on Entra).
    async fn client(&self) -> Result<Arc<EntraClient>, LinkError> {
        self.client
            .client()
            .await
            .map_err(|e| LinkError::Upstream(e.to_string()))
    }

    /// A single-use sign-in link for `who`; `claims` asks Entra for step-up,
    /// `resume` is what to continue once signed in (opaque to this service).
    /// With a `purpose` (what the sign-in is for: one decision, one
    /// activation), a live link `who` already has for the same purpose and
    /// claims is reused instead: its `resume` becomes this one and no new
    /// link exists (one live prompt per person and purpose, so a flood of
    /// clicks cannot mint a flood of tokens and messages).
    pub async fn sign_in_link(
        &self,
        who: &ChatIdentity,
        purpose: Option<&str>,
        claims: Option<&str>,
        resume: Option<&str>,
    ) -> Result<SignInLink, LinkError> {
        let token = random_token();
        let expires = Utc::now() + self.link_ttl;
        let Some(purpose) = purpose else {
            self.store
                .insert_link_token(&hash(&token), who, claims, resume, expires)
                .await?;
            return Ok(SignInLink::New(self.link_url(&token)));
        };
        let claimed = self
            .store
            .claim_link_token(
                &hash(&token),
                who,
                purpose,
                claims,
                resume,
                expires,
                Utc::now(),
            )
            .await?;
        Ok(match claimed {
            None => SignInLink::New(self.link_url(&token)),
            Some(previous_resume) => SignInLink::StillValid { previous_resume },
        })
    }

    fn link_url(&self, token: &str) -> String {
        format!("{}/auth/start?t={token}", self.public_base_url)
    }

    /// Voids the link of a sign-in prompt that could not be delivered, so
    /// the person's next click mints (and sends) a new one.
    pub async fn void_link(&self, url: &str) -> Result<(), LinkError> {
        let token = url::Url::parse(url).ok().and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "t")
                .map(|(_, v)| v.into_owned())
        });
        if let Some(token) = token {
            self.store.void_link_token(&hash(&token)).await?;
        }
        Ok(())
    }

    /// The chat identity an unused link token is for, without using it.
    pub async fn pending(&self, link_token: &str) -> Result<ChatIdentity, LinkError> {
        self.store
            .peek_link_token(&hash(link_token), Utc::now())
            .await?
            .ok_or(LinkError::InvalidLinkToken)
    }

    /// The name of the cookie that binds the flow of `state` to a browser
    /// (one per flow, so two sign-ins in one browser do not clash).
    #[must_use]
    pub fn flow_cookie_name(state: &str) -> String {
        format!("stagegate_signin_{}", &hash(state)[..16])
    }

    /// Consumes a link token and starts the Entra sign-in: the authorize
    /// URL to redirect to, and a cookie for the browser that asked.
    pub async fn start(&self, link_token: &str) -> Result<Started, LinkError> {
        let pending = self
            .store
            .consume_link_token(&hash(link_token), Utc::now())
            .await?
            .ok_or(LinkError::InvalidLinkToken)?;
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("offline_access".into()))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .add_extra_param(
                "prompt",
                if pending.claims.as_deref().is_some_and(demands_fresh_mfa) {
                    "login"
                } else {
                    "select_account"
                },
            );
        if let Some(claims) = &pending.claims {
            request = request.add_extra_param("claims", claims.clone());
        }
        let (url, state, nonce) = request.url();
        let browser = random_token();
        let aad = flow_aad(state.secret());
        let flow = PendingSignIn {
            code_verifier: self
                .vault
                .seal(&SecretString::from(verifier.secret().clone()), &aad),
            nonce: nonce.secret().clone(),
            browser_hash: hash(&browser),
            ..pending
        };
        self.store
            .insert_auth_flow(
                &hash(state.secret()),
                &flow,
                Utc::now() + Duration::minutes(FLOW_LIFETIME_MINUTES),
            )
            .await?;
        Ok(Started {
            authorize_url: url.to_string(),
            cookie_name: Self::flow_cookie_name(state.secret()),
            cookie_value: browser,
        })
    }

    /// How long the browser cookie of a flow lives.
    #[must_use]
    pub fn flow_lifetime() -> std::time::Duration {
        std::time::Duration::from_secs(FLOW_LIFETIME_MINUTES as u64 * 60)
    }

    /// Completes a sign-in from the redirect's `code` and `state`, in the
    /// browser that carries `browser` (the flow's cookie). Returns who
    /// signed in; nothing is linked yet.
    pub async fn callback(
        &self,
        code: &str,
        state: &str,
        browser: Option<&str>,
    ) -> Result<SignedIn, LinkError> {
        let flow = self
            .store
            .consume_auth_flow(&hash(state), Utc::now())
            .await?
            .ok_or(LinkError::InvalidState)?;
        // Constant time: the stored hash is of a secret cookie.
        let same_browser = browser.is_some_and(|b| {
            !flow.browser_hash.is_empty()
                && bool::from(hash(b).as_bytes().ct_eq(flow.browser_hash.as_bytes()))
        });
        if !same_browser {
            return Err(LinkError::ForeignBrowser(Box::new(flow.identity)));
        }
        let verifier = self
            .vault
            .open(&flow.code_verifier, &flow_aad(state))
            .map_err(|_| LinkError::InvalidState)?;
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| LinkError::Upstream(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| LinkError::Refused(describe_token_error(&e)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| LinkError::Upstream("Entra returned no ID token".into()))?;
        self.client
            .verify_id_token(id_token, &Nonce::new(flow.nonce.clone()))
            .await
            .map_err(|e| match e {
                VerifyError::Rejected(e) => LinkError::Refused(format!("ID token rejected: {e}")),
                VerifyError::Discovery(e) => LinkError::Upstream(e.to_string()),
            })?;
        // Signature, issuer, audience, expiry and nonce were verified above;
        // reading the Entra-specific claims from the same token is safe now.
        let extra: EntraIdClaims = jsonwebtoken::dangerous::insecure_decode(id_token.to_string())
            .map(|d| d.claims)
            .map_err(|e| LinkError::Upstream(format!("ID token claims unreadable: {e}")))?;
        if extra.tid != self.tenant_id {
            return Err(LinkError::WrongTenant);
        }
        let refresh = response.refresh_token().ok_or_else(|| {
            LinkError::Upstream("Entra returned no refresh token (offline_access)".into())
        })?;
        let mfa_at = mfa_evidence(&extra, response.access_token().secret());
        let display_name = extra
            .name
            .or(extra.preferred_username)
            .unwrap_or_else(|| extra.oid.clone());
        Ok(SignedIn {
            identity: flow.identity,
            object_id: extra.oid,
            display_name,
            resume: flow.resume,
            mfa_at,
            refresh_token: SecretString::from(refresh.secret().clone()),
        })
    }

    /// Links the chat identity of a checked sign-in to its Entra account:
    /// the refresh token sealed and bound to both.
    pub async fn store_link(&self, signed: &SignedIn) -> Result<(), LinkError> {
        let sealed = self.vault.seal(
            &signed.refresh_token,
            &refresh_token_aad(&self.tenant_id, &signed.object_id, &signed.identity),
        );
        self.store
            .upsert_link(
                &LinkRow {
                    identity: signed.identity.clone(),
                    object_id: signed.object_id.clone(),
                    display_name: signed.display_name.clone(),
                    refresh_token: sealed,
                    key_id: self.vault.primary_key_id().to_owned(),
                    aad_version: REFRESH_TOKEN_AAD_VERSION,
                },
                Utc::now(),
            )
            .await?;
        if let Some(at) = signed.mfa_at {
            self.store.set_mfa_at(&signed.identity, at).await?;
        }
        Ok(())
    }

    /// A fresh delegated Graph access token for a linked person (refresh
    /// grant; the rotated refresh token replaces the stored one).
    pub async fn access_token(
        &self,
        who: &ChatIdentity,
    ) -> Result<(SecretString, String), LinkError> {
        let link = self.store.link(who).await?.ok_or(LinkError::NotLinked)?;
        let aad = refresh_token_aad(&self.tenant_id, &link.object_id, who);
        let refresh = self.vault.open(&link.refresh_token, &aad).map_err(|e| {
            log_unopenable(who, &e);
            LinkError::Reauthenticate
        })?;
        let client = self.client().await?;
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh.expose_secret().to_owned()))
            .map_err(|e| LinkError::Upstream(e.to_string()))?
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .request_async(&self.http)
            .await
            .map_err(|e| match &e {
                openidconnect::RequestTokenError::ServerResponse(r)
                    if r.error().as_ref() == "invalid_grant" =>
                {
                    LinkError::Reauthenticate
                }
                _ => LinkError::Upstream(describe_token_error(&e)),
            })?;
        if let Some(rotated) = response.refresh_token() {
            let sealed = self
                .vault
                .seal(&SecretString::from(rotated.secret().clone()), &aad);
            self.store
                .update_refresh_token(
                    who,
                    &sealed,
                    self.vault.primary_key_id(),
                    REFRESH_TOKEN_AAD_VERSION,
                    Utc::now(),
                )
                .await?;
        }
        Ok((
            SecretString::from(response.access_token().secret().clone()),
            link.object_id,
        ))
    }

    /// Removes the link and its stored token.
    pub async fn unlink(&self, who: &ChatIdentity) -> Result<bool, LinkError> {
        Ok(self.store.delete_link(who).await?)
    }
}

/// A stored token that does not open means the person must sign in again;
/// a key missing from the ring is an operator's mistake and said loudly.
fn log_unopenable(who: &ChatIdentity, error: &VaultError) {
    match error {
        VaultError::MissingKey(key_id) => tracing::error!(
            %key_id,
            platform = %who.platform,
            "a stored refresh token was sealed with a vault key that is not in identity.vault_keys; \
             put the key back in the ring, or the person must sign in again"
        ),
        other => {
            tracing::warn!(error = %other, platform = %who.platform, "a stored refresh token does not open; the person must sign in again")
        }
    }
}

pub(crate) fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub(crate) fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

fn flow_aad(state: &str) -> Vec<u8> {
    format!("stagegate/pkce-verifier/v1/{}", hash(state)).into_bytes()
}

/// Entra's error text (`AADSTS…`) without anything secret.
fn describe_token_error<E: std::error::Error>(
    error: &openidconnect::RequestTokenError<
        E,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> String {
    match error {
        openidconnect::RequestTokenError::ServerResponse(r) => format!(
            "{}: {}",
            r.error().as_ref(),
            r.error_description().map(String::as_str).unwrap_or("")
        ),
        other => other.to_string(),
    }
}
