//! Reaching a person in chat by their Entra identity. The chat accounts on
//! file come first; on each configured platform where none is on file the
//! platform looks the person up (Teams installs the app for them, Slack
//! finds them by mail), and what it finds is filed, so it is asked once.
//! Who a platform could not find is remembered for a while, so a burst of
//! cards for one such approver costs one lookup, not one each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::Failure;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::{ChatError, DirectoryPerson};
use crate::engine::Engine;
use stagegate_domain::ids::ObjectId;

/// How long "not found on this platform" is believed before asking again
/// (someone may join the Slack workspace, or an administrator may allow
/// the app).
const NOT_FOUND_FOR: Duration = Duration::from_secs(15 * 60);
/// Bounded: one entry per (person, platform) not found.
const NOT_FOUND_MAX: usize = 10_000;

/// Who each platform recently could not find, and why.
#[derive(Default)]
pub(crate) struct NotFound {
    seen: Mutex<HashMap<(ObjectId, String), (Instant, String)>>,
}

impl NotFound {
    fn recent(&self, person: &ObjectId, platform: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&(*person, platform.to_owned()))
            .filter(|(at, _)| at.elapsed() < NOT_FOUND_FOR)
            .map(|(_, why)| why.clone())
    }

    fn note(&self, person: &ObjectId, platform: &str, why: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= NOT_FOUND_MAX {
            seen.retain(|_, (at, _)| at.elapsed() < NOT_FOUND_FOR);
        }
        if seen.len() < NOT_FOUND_MAX {
            seen.insert(
                (*person, platform.to_owned()),
                (Instant::now(), why.to_owned()),
            );
        }
    }
}

/// Where a person can be reached, and why not elsewhere.
pub(super) struct Reach {
    pub identities: Vec<ChatIdentity>,
    /// One line per platform that could not find them.
    pub unreachable: Vec<String>,
    /// A platform that could not answer yet (rate limited, unavailable):
    /// the job delivers to the others, then fails with this so it is
    /// retried for that platform (what was delivered is not repeated).
    pub pending: Option<Failure>,
}

impl Engine {
    /// The chat accounts `person` can be reached at: those on file, plus
    /// the one each other configured platform finds by their Entra
    /// identity. "Not there" is an answer; a platform's transient failure
    /// is [`Reach::pending`], so one platform's rate limit does not hold
    /// up a card on the other.
    pub(super) async fn reach(&self, person: &ObjectId) -> Result<Reach, Failure> {
        let mut identities = self.ctx.store.identities_of(person).await?;
        let mut unreachable = Vec::new();
        let mut pending = None;
        let missing: Vec<_> = self
            .ctx
            .ports
            .iter()
            .filter(|(platform, _)| !identities.iter().any(|i| &i.platform == *platform))
            .collect();
        if missing.is_empty() {
            return Ok(Reach {
                identities,
                unreachable,
                pending,
            });
        }
        let mut directory = None;
        for (platform, port) in missing {
            if let Some(why) = self.delivery.not_found.recent(person, platform) {
                unreachable.push(format!("{platform}: {why}"));
                continue;
            }
            if directory.is_none() {
                directory = Some(self.directory_person(person).await?);
            }
            let Some(Some(who)) = &directory else {
                unreachable.push("not in the directory".into());
                break;
            };
            match port.find_person(who).await {
                Ok(found) => {
                    self.ctx
                        .store
                        .upsert_person(&found, person, &who.display_name, Utc::now())
                        .await?;
                    tracing::info!(%person, %platform, "found a person in chat by their Entra identity");
                    identities.push(found);
                }
                Err(ChatError::Unreachable { reason, .. }) => {
                    tracing::info!(%person, %platform, %reason, "a person is not reachable on this platform");
                    self.delivery.not_found.note(person, platform, &reason);
                    unreachable.push(format!("{platform}: {reason}"));
                }
                Err(e) => pending = Some(Failure::Chat(e)),
            }
        }
        Ok(Reach {
            identities,
            unreachable,
            pending,
        })
    }

    /// The person as Entra names them; `None` when Entra has no such user.
    async fn directory_person(&self, id: &ObjectId) -> Result<Option<DirectoryPerson>, Failure> {
        let user = crate::graph::directory::user(&self.ctx.graph, id)
            .await
            .map_err(|e| {
                Failure::Chat(ChatError::Transient(format!("reading the directory: {e}")))
            })?;
        Ok(user.map(|u| DirectoryPerson {
            id: *id,
            display_name: u.display_name.unwrap_or_else(|| id.to_string()),
            mail: u.mail.filter(|m| !m.trim().is_empty()),
            user_principal_name: u.user_principal_name.filter(|m| !m.trim().is_empty()),
        }))
    }
}
