//! Clicks still being worked on, per card: only the last of a burst hands
//! the card to the outbox, with the outcome of the latest click that
//! changed the request.

use super::TeamsBot;
use crate::chat::identity::ChatIdentity;
use stagegate_domain::ids::RequestId;

/// The clicks still being worked on on one card, and the outcome of the
/// latest of them that changed the request (refusals change no card).
#[derive(Debug, Default)]
pub(super) struct InFlight {
    clicks: usize,
    changed: Option<ChangedClick>,
}

#[derive(Debug)]
pub(super) struct ChangedClick {
    pub(super) who: ChatIdentity,
    pub(super) request: RequestId,
    pub(super) note: String,
    pub(super) answered: bool,
}

impl TeamsBot {
    pub(super) fn click_started(&self, key: &str) {
        let mut all = self
            .clicks_in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        all.entry(key.to_owned()).or_default().clicks += 1;
    }

    /// Counts a click on the card at `key` out; when it was the last one
    /// in progress, the outcome the card is to show (the latest click that
    /// changed the request), if any.
    pub(super) fn click_done(
        &self,
        key: &str,
        changed: Option<ChangedClick>,
    ) -> Option<ChangedClick> {
        let mut all = self
            .clicks_in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let entry = all.entry(key.to_owned()).or_default();
        entry.clicks = entry.clicks.saturating_sub(1);
        if changed.is_some() {
            entry.changed = changed;
        }
        if entry.clicks > 0 {
            return None;
        }
        all.remove(key).and_then(|e| e.changed)
    }
}
