//! Makes the seeded story clickable from a fresh start: the bot is
//! installed in the team that holds the security channel. People are not:
//! a persona who writes to the bot installs it then, and the bot installs
//! it through Graph for an approver who never did (docs/sandbox.md). Done
//! through the Teams driver over HTTP, so the bot gets the same signed
//! `conversationUpdate` activity as when a team adds the app.

use crate::SimState;
use crate::teams::store::ALERTS_CHANNEL_ID;

/// Installs the Teams app in the security channel's team, through the
/// driver at `state.base_url`. The bot must be connected
/// ([`SimState::connect_bot`]) and serving.
pub async fn install_chat_apps(state: &SimState) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = state.base_url.clone();
    let post = |path: String| {
        let http = http.clone();
        async move {
            let response = http.post(&path).send().await?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let bot = body["bot"]["status"].as_u64();
            anyhow::ensure!(
                status.is_success() && bot.is_none_or(|s| (200..300).contains(&s)),
                "{path}: {status}, bot answered {bot:?}"
            );
            Ok::<_, anyhow::Error>(())
        }
    };
    post(format!(
        "{base}/sim/teams/channels/{ALERTS_CHANNEL_ID}/install"
    ))
    .await
}
