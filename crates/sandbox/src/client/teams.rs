//! A persona in the emulated Teams (`/sim/teams/…`).

use serde_json::{Value, json};

use super::{ChatItem, ClientError, SimClient};
use crate::teams::store::ALERTS_CHANNEL_ID;

impl SimClient {
    /// `key` installs the bot (personal scope), so the bot can reach them.
    pub async fn teams_install(&self, key: &str) -> Result<Value, ClientError> {
        self.post_ok(&format!("/sim/teams/personas/{key}/install"), &json!({}))
            .await
    }

    /// The bot is added to the team whose channel is the security channel.
    pub async fn teams_install_security_channel(&self) -> Result<Value, ClientError> {
        self.post_ok(
            &format!("/sim/teams/channels/{ALERTS_CHANNEL_ID}/install"),
            &json!({}),
        )
        .await
    }

    /// `key` types `text` in their chat with the bot; the driver's answer
    /// (with the bot's HTTP answer under `bot`).
    pub async fn teams_say(&self, key: &str, text: &str) -> Result<Value, ClientError> {
        self.post_ok(
            &format!("/sim/teams/personas/{key}/messages"),
            &json!({ "text": text }),
        )
        .await
    }

    /// `key` clicks the `Action.Execute` `verb` of the card in activity
    /// `activity_id`, with input values (`{"justification": "…"}`).
    pub async fn teams_click(
        &self,
        key: &str,
        activity_id: &str,
        verb: &str,
        inputs: Value,
    ) -> Result<Value, ClientError> {
        self.post_ok(
            &format!("/sim/teams/personas/{key}/invoke"),
            &json!({ "activityId": activity_id, "verb": verb, "inputs": inputs }),
        )
        .await
    }

    /// `key` opens their chat with the bot: their client runs the due
    /// `refresh` of its cards (`/sim/teams/personas/{key}/open`).
    pub async fn teams_open(&self, key: &str) -> Result<Value, ClientError> {
        self.post_ok(&format!("/sim/teams/personas/{key}/open"), &json!({}))
            .await
    }

    /// What the bot posted in `key`'s chat, as `key` sees it, oldest first.
    pub async fn teams_chat(&self, key: &str) -> Result<Vec<ChatItem>, ClientError> {
        let view = self
            .get_json(&format!("/sim/teams/personas/{key}/conversation"))
            .await?;
        Ok(view["activities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| {
                a["from"]["id"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("28:"))
            })
            .map(ChatItem::from_teams)
            .collect())
    }

    /// The Teams security channel's posts (thread roots), oldest first.
    pub async fn teams_security(&self) -> Result<Vec<ChatItem>, ClientError> {
        let view = self
            .get_json(&format!("/sim/teams/channels/{ALERTS_CHANNEL_ID}/messages"))
            .await?;
        Ok(view["threads"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| ChatItem::from_teams(&t["root"]))
            .collect())
    }
}
