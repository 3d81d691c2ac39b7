//! The Slack app manifest, pasted into "Create an app → From a manifest" or
//! sent to `apps.manifest.create`.

use serde_json::Value;

use super::{ManifestError, PublicUrl, fill};

pub const SLACK_TEMPLATE: &str = include_str!("../../manifests/slack/manifest.template.json");

/// The filled-in manifest: slash commands at `/api/slack/commands`,
/// interactivity at `/api/slack/interactions`, both under `public_url`.
///
/// Bot scopes are only what the bot calls: `chat:write` (`chat.postMessage`,
/// `chat.update`, `chat.postEphemeral`), `commands`, `im:history`
/// (`conversations.history` in the bot's own DMs, to find a card it may have
/// posted just before a crash, by the message metadata carrying the
/// delivery's key), `im:write` (`conversations.open` for DMs),
/// `users:read` (`users.info`) and `users:read.email` (`users.lookupByEmail`,
/// to find an approver who never used the bot by their Entra mail or UPN,
/// and the profile email account linking compares with the Entra
/// account's). Not
/// `chat:write.public`: it only reaches *public* channels the bot has not
/// joined, while a security-alert channel should be private, where Slack
/// requires membership anyway, so the bot is invited to that channel instead.
/// No `event_subscriptions`: the bot takes no Events API traffic, which is
/// also why the Messages tab is read-only (a DM typed to the bot would go
/// nowhere).
pub fn render_slack_manifest(public_url: &PublicUrl) -> Result<Value, ManifestError> {
    fill(
        "Slack manifest",
        SLACK_TEMPLATE,
        &[("PUBLIC_BASE_URL", public_url.origin())],
    )
}
