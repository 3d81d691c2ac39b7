//! Whether the security channel is reachable, without posting to it: the
//! channel's members, read as the bot (Teams answers 403/404 with
//! `BotNotInConversationRoster` or `ConversationNotFound` when it is not).

use super::{CAPTURED_CHANNEL, TeamsPort};
use crate::chat::teams::connector::TeamsError;
use crate::store::teams::ConversationKind;

impl TeamsPort {
    /// The channel alerts go to (as `to_channel` picks it: the configured
    /// one, else the one the bot was added to, else `requested`), checked.
    pub(super) async fn channel_reachable(&self, requested: &str) -> Result<(), TeamsError> {
        let (channel, service_url) = self.alerts_channel(requested).await?;
        self.connector.get_members(&service_url, &channel).await?;
        Ok(())
    }

    /// Where alerts go: the configured channel, else the one the bot was
    /// added to, else `requested`; with its admitted serviceUrl.
    pub(super) async fn alerts_channel(
        &self,
        requested: &str,
    ) -> Result<(String, crate::chat::teams::service_url::ServiceUrl), TeamsError> {
        let captured = if self.security_channel.is_some() {
            None
        } else {
            self.recall(ConversationKind::Channel, CAPTURED_CHANNEL)
                .await
        };
        let (channel, service_url) = match (&self.security_channel, captured) {
            (Some(configured), _) => (configured.clone(), self.default_service_url.clone()),
            (None, Some(c)) => (c.conversation_id, c.service_url),
            (None, None) => (requested.to_owned(), self.default_service_url.clone()),
        };
        let service_url = self
            .allowlist
            .admit(&service_url)
            .map_err(|e| TeamsError::ServiceUrlNotAllowed(e.to_string()))?;
        Ok((channel, service_url))
    }
}
