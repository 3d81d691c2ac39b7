//! The emulated Slack: a workspace whose members are the tenant's personas,
//! the Web API the bot calls (`/slack/api/{method}`), the `response_url`s it
//! posts to (`/slack/hooks/{token}`), and the driver API (`/sim/slack/…`,
//! see [`driver`]) through which tests and the console act as each person's
//! Slack client, which makes the emulator send the bot signed requests.
//!
//! Identities: the team id, the bot's ids and every person's `U…` id (and
//! their DM's `D…` id) are derived from the tenant, so they are the same in
//! every run; the bot token (`xoxb-…`), the signing secret and the
//! verification token are random per sandbox. All are in `/sim/tenant`'s
//! `slack` object.

pub mod api;
pub mod blocks;
pub mod buttons;
pub mod deliver;
pub mod driver;
mod hooks;
mod ratelimit;
pub mod state;

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::routing::{any, post};
use serde_json::{Value, json};

use super::SimState;
use super::world::World;
use state::{BotEndpoints, Channel, ChannelKind, SlackUser, SlackWorld, random_hex, stable_id};

/// The scopes of the sandbox app's bot token (docs/architecture.md, "Slack
/// Web API"; `manifests/slack/manifest.template.json`).
pub const BOT_SCOPES: [&str; 6] = [
    "chat:write",
    "commands",
    "im:history",
    "im:write",
    "users:read",
    "users:read.email",
];
/// The slash command the bot registers.
pub const COMMAND: &str = "/request";
pub const SECURITY_CHANNEL: &str = "stagegate-security";
/// A channel the bot is not in (for `not_in_channel`).
pub const GENERAL_CHANNEL: &str = "general";

pub struct SlackSim {
    pub team_id: String,
    pub team_domain: String,
    pub team_name: String,
    pub app_id: String,
    pub bot_id: String,
    pub bot_user_id: String,
    pub bot_name: String,
    bot_token: String,
    signing_secret: String,
    verification_token: String,
    /// Unix time the workspace was created (`created` fields).
    pub created: i64,
    pub started: Instant,
    limits: ratelimit::EmuLimits,
    /// Sends the bot its signed requests.
    http: reqwest::Client,
    world: Mutex<SlackWorld>,
}

impl std::fmt::Debug for SlackSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSim")
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

impl SlackSim {
    /// `fixed`: the bot token and signing secret to use (emulators-only
    /// mode, where the bot reads them from its config file); random when
    /// `None`.
    pub fn new(world: &World, fixed: Option<(&str, &str)>) -> Self {
        let seed = &world.tenant_id;
        let team_id = stable_id('T', &format!("team:{seed}"));
        let bot_user_id = stable_id('U', &format!("bot-user:{seed}"));
        let mut slack = SlackWorld::default();
        for user in world.users.values() {
            let id = stable_id('U', &format!("user:{}", user.id));
            let handle = user
                .user_principal_name
                .split('@')
                .next()
                .unwrap_or(&user.key)
                .to_lowercase();
            slack.users.insert(
                id.clone(),
                SlackUser {
                    id: id.clone(),
                    key: user.key.clone(),
                    entra_id: user.id.clone(),
                    name: handle,
                    real_name: user.display_name.clone(),
                    email: user.mail.clone(),
                    deleted: !user.account_enabled,
                },
            );
            let dm = stable_id('D', &format!("dm:{}", user.id));
            let members = BTreeSet::from([id.clone(), bot_user_id.clone()]);
            slack.channels.insert(
                dm.clone(),
                Channel::new(dm, id.clone(), ChannelKind::Im { user: id }, members),
            );
        }
        let everyone: BTreeSet<String> = slack.users.keys().cloned().collect();
        for (name, with_bot) in [(SECURITY_CHANNEL, true), (GENERAL_CHANNEL, false)] {
            let id = stable_id('C', &format!("channel:{name}:{seed}"));
            let mut members = everyone.clone();
            if with_bot {
                members.insert(bot_user_id.clone());
            }
            slack.channels.insert(
                id.clone(),
                Channel::new(id, name.into(), ChannelKind::Public, members),
            );
        }
        let bot_token = fixed.map_or_else(
            || {
                format!(
                    "xoxb-{}-{}-{}",
                    rand::random::<u32>() % 1_000_000_000,
                    rand::random::<u32>() % 1_000_000_000,
                    random_hex(12)
                )
            },
            |(token, _)| token.to_owned(),
        );
        slack.tokens.insert(
            bot_token.clone(),
            BOT_SCOPES.iter().map(|s| s.to_string()).collect(),
        );
        slack.bot = BotEndpoints {
            ack_timeout_ms: deliver::ACK_DEADLINE_MS,
            ..BotEndpoints::default()
        };
        let domain = world
            .domain
            .split('.')
            .next()
            .unwrap_or("stagegate")
            .to_lowercase();
        Self {
            team_id,
            team_name: format!("{} (sandbox)", world.domain),
            team_domain: domain,
            app_id: stable_id('A', &format!("app:{seed}")),
            bot_id: stable_id('B', &format!("bot:{seed}")),
            bot_user_id,
            bot_name: "stagegate".into(),
            bot_token,
            signing_secret: fixed.map_or_else(|| random_hex(16), |(_, secret)| secret.to_owned()),
            verification_token: random_hex(12),
            created: world.created.timestamp(),
            started: Instant::now(),
            limits: ratelimit::EmuLimits::default(),
            http: reqwest::Client::new(),
            world: Mutex::new(slack),
        }
    }

    /// The id of `#stagegate-security`, the channel the bot alerts in.
    #[must_use]
    pub fn security_channel_id(&self) -> Option<String> {
        self.lock()
            .channels
            .values()
            .find(|c| c.name == SECURITY_CHANNEL)
            .map(|c| c.id.clone())
    }

    /// The workspace state; hold it briefly and never across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, SlackWorld> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn bot_token(&self) -> &str {
        &self.bot_token
    }

    pub fn signing_secret(&self) -> &str {
        &self.signing_secret
    }

    /// The deprecated verification token Slack still puts in payloads.
    pub fn verification_token(&self) -> &str {
        &self.verification_token
    }

    /// A `response_url` for `token`.
    pub fn hook_url(base_url: &str, token: &str) -> String {
        format!("{base_url}/slack/hooks/{token}")
    }

    fn scopes_of(&self, token: &str) -> Option<Vec<String>> {
        self.lock().tokens.get(token).cloned()
    }

    /// The channel a chat.postMessage is counted against (user ids post to
    /// their DM).
    fn rate_key_channel(&self, channel: &str) -> String {
        let world = self.lock();
        world
            .resolve_channel(channel)
            .or_else(|| world.dm_of(channel).map(|c| c.id.clone()))
            .unwrap_or_else(|| channel.to_owned())
    }

    /// The `slack` object of `/sim/tenant`.
    pub fn summary(&self, base_url: &str) -> Value {
        let world = self.lock();
        let users: serde_json::Map<String, Value> = world
            .users
            .values()
            .map(|u| {
                let dm = world.dm_of(&u.id).map(|c| c.id.clone());
                (u.key.clone(), json!({ "userId": u.id, "name": u.name, "dmChannelId": dm, "deleted": u.deleted }))
            })
            .collect();
        let channels: Vec<Value> = world
            .channels
            .values()
            .filter(|c| c.kind == ChannelKind::Public)
            .map(|c| json!({ "id": c.id, "name": c.name, "botIsMember": c.members.contains(&self.bot_user_id) }))
            .collect();
        json!({
            "teamId": self.team_id, "teamDomain": self.team_domain, "appId": self.app_id,
            "botId": self.bot_id, "botUserId": self.bot_user_id,
            "botToken": self.bot_token, "botScopes": BOT_SCOPES,
            "signingSecret": self.signing_secret,
            "apiBaseUrl": format!("{base_url}/slack/api"),
            "command": COMMAND, "users": users, "channels": channels, "bot": world.bot,
        })
    }
}

/// Routes under `/slack`: the Web API and the `response_url`s.
pub fn router() -> Router<SimState> {
    Router::new()
        .route("/api/{method}", any(api::api))
        .route("/hooks/{token}", post(hooks::respond))
}
