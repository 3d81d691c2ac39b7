//! What a sign-in produces on its way to a link: the flow started for a
//! browser, the Entra account signed in (not yet linked), and the link.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::chat::identity::ChatIdentity;

/// A sign-in Entra completed for a flow this browser started: who signed
/// in, not yet linked. The engine checks that the Entra account belongs to
/// the chat account before [`super::LinkService::store_link`] keeps it.
pub struct SignedIn {
    pub identity: ChatIdentity,
    pub object_id: String,
    pub display_name: String,
    pub resume: Option<String>,
    pub(super) mfa_at: Option<DateTime<Utc>>,
    pub(super) refresh_token: SecretString,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("identity", &self.identity)
            .field("object_id", &self.object_id)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    /// What the engine needs once the link is stored.
    #[must_use]
    pub fn linked(&self) -> Linked {
        Linked {
            identity: self.identity.clone(),
            object_id: self.object_id.clone(),
            display_name: self.display_name.clone(),
            resume: self.resume.clone(),
        }
    }
}

/// A sign-in started at `/auth/start`: where to send the browser, and the
/// cookie that binds the flow to it.
pub struct Started {
    pub authorize_url: String,
    pub cookie_name: String,
    pub cookie_value: String,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

/// A completed link, for the caller to confirm in chat and resume.
#[derive(Debug, Clone)]
pub struct Linked {
    pub identity: ChatIdentity,
    pub object_id: String,
    pub display_name: String,
    pub resume: Option<String>,
}
