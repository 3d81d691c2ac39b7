//! A persona in the emulated Slack (`/sim/slack/…`).

use serde_json::{Value, json};

use super::{ChatItem, ClientError, SimClient, unexpected};
use crate::slack::SECURITY_CHANNEL;

impl SimClient {
    /// `key` runs `/command text` in their DM with the bot; the driver's
    /// answer (`ack`, `triggerId`, `responseUrl`).
    pub async fn slack_command(
        &self,
        key: &str,
        command: &str,
        text: &str,
    ) -> Result<Value, ClientError> {
        self.post_ok(
            &format!("/sim/slack/personas/{key}/command"),
            &json!({ "command": command, "text": text, "channel": "dm" }),
        )
        .await
    }

    /// `key`'s DM with the bot as they see it, oldest first.
    pub async fn slack_dm(&self, key: &str) -> Result<Vec<ChatItem>, ClientError> {
        self.slack_conversation(key, "dm").await
    }

    /// A conversation (`dm` or a channel id) as `key` sees it.
    pub async fn slack_conversation(
        &self,
        key: &str,
        channel: &str,
    ) -> Result<Vec<ChatItem>, ClientError> {
        let view = self
            .get_json(&format!(
                "/sim/slack/personas/{key}/conversations/{channel}"
            ))
            .await?;
        Ok(view["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(ChatItem::from_slack)
            .collect())
    }

    /// The id of the Slack security channel (`#stagegate-security`).
    pub async fn slack_security_channel(&self) -> Result<String, ClientError> {
        let tenant = self.tenant().await?;
        tenant["slack"]["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == SECURITY_CHANNEL)
            .and_then(|c| c["id"].as_str().map(str::to_owned))
            .ok_or_else(|| unexpected("/sim/tenant", format!("no #{SECURITY_CHANNEL} channel")))
    }

    /// The Slack security channel's messages, as `viewer` sees them.
    pub async fn slack_security(&self, viewer: &str) -> Result<Vec<ChatItem>, ClientError> {
        let channel = self.slack_security_channel().await?;
        self.slack_conversation(viewer, &channel).await
    }

    /// `key` clicks button `action_id` on message `ts` of their DM.
    pub async fn slack_click(
        &self,
        key: &str,
        ts: &str,
        action_id: &str,
    ) -> Result<Value, ClientError> {
        let tenant = self.tenant().await?;
        let channel = tenant["slack"]["users"][key]["dmChannelId"]
            .as_str()
            .ok_or_else(|| unexpected("/sim/tenant", format!("`{key}` has no Slack DM")))?
            .to_owned();
        self.post_ok(
            &format!("/sim/slack/personas/{key}/click"),
            &json!({ "channel": channel, "ts": ts, "actionId": action_id }),
        )
        .await
    }

    /// The modals open for `key`, bottom first.
    pub async fn slack_views(&self, key: &str) -> Result<Vec<Value>, ClientError> {
        let views = self
            .get_json(&format!("/sim/slack/personas/{key}/views"))
            .await?;
        Ok(views["views"].as_array().cloned().unwrap_or_default())
    }

    /// `key` submits their top modal with a justification; the driver's
    /// answer (`responseAction` is `clear` when the bot closed it).
    pub async fn slack_submit(&self, key: &str, justification: &str) -> Result<Value, ClientError> {
        self.post_ok(
            &format!("/sim/slack/personas/{key}/submit"),
            &json!({ "values": { "justification": { "text": justification } }, "force": false }),
        )
        .await
    }
}
