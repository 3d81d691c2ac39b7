//! What Slack says of a person: their handle, name, workspace name and the
//! email address Slack verified (`users.info`, scope `users:read.email`).
//! Account linking compares that email with the Entra account's.

use super::adapter::SlackPort;
use super::error::SlackError;
use crate::chat::identity::ChatIdentity;
use crate::chat::port::ChatProfile;

impl SlackPort {
    /// The profile of `who`; the workspace name only for the bot's own
    /// workspace (the one `auth.test` names).
    pub async fn person_profile(&self, who: &ChatIdentity) -> Result<ChatProfile, SlackError> {
        let user = self.client().user_info(&who.user).await?;
        let workspace_name = self
            .workspace
            .get_or_try_init(|| async {
                let me = self.client().auth_test().await?;
                Ok::<_, SlackError>((me.team_id, me.team))
            })
            .await
            .ok()
            .filter(|(team, _)| *team == who.workspace)
            .map(|(_, name)| name.clone());
        let name = user
            .profile
            .real_name
            .clone()
            .or(user.real_name.clone())
            .filter(|n| !n.trim().is_empty());
        Ok(ChatProfile {
            handle: Some(user.name.clone()).filter(|h| !h.is_empty()),
            name,
            workspace_name,
            // A deactivated account proves nothing.
            email: user
                .profile
                .email
                .clone()
                .filter(|e| !e.trim().is_empty() && !user.deleted && !user.is_bot),
        })
    }
}
