//! What the emulated Teams remembers: where the bot is installed, the
//! conversations, and every activity in them with all its versions (a PUT
//! adds a version; clients show the latest).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::moments::MessageMoments;

/// The seeded team, and its channels. The General channel's id is the
/// team's id, as in Teams.
pub const TEAM_ID: &str = "19:5ec0a1e2f3b44c8d9e0f1a2b3c4d5e6f@thread.tacv2";
pub const TEAM_NAME: &str = "IT Security";
pub const TEAM_AAD_GROUP_ID: &str = "3f6b1d2e-8c4a-4e7b-9d15-2a6c8e0f4b71";
/// The channel security alerts go to.
pub const ALERTS_CHANNEL_ID: &str = "19:a7e3c9b1d5f24e6a8c0b2d4f6e8a1c3b@thread.tacv2";

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub aad_group_id: String,
    pub bot_installed: bool,
    pub channels: Vec<Channel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationKind {
    /// The 1:1 chat of a user (by Entra object id) with the bot.
    Personal { user: String },
    /// A channel; posting to it starts a thread.
    Channel { channel_id: String },
    /// One thread of a channel (`<channel>;messageid=<root>`).
    Thread { channel_id: String, root: String },
}

/// A user's personal install of the bot.
#[derive(Debug, Clone, Default)]
pub struct Install {
    /// Blocked or uninstalled: sends answer 403 MessageWritesBlocked.
    pub blocked: bool,
}

/// The card a user saw after their own `Action.Execute` (a user-specific
/// view, from a click or a `refresh`); shown until the bot updates the
/// base activity again.
#[derive(Debug, Clone)]
pub struct UserView {
    pub card: Value,
    pub base_version: usize,
    /// When the bot answered with it (emulated clock): Teams refreshes a
    /// card only when the one from the last invoke is over a minute old.
    pub at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone)]
pub struct StoredActivity {
    pub id: String,
    pub from_bot: bool,
    /// Every version, oldest first; never empty.
    pub versions: Vec<Value>,
    pub user_views: BTreeMap<String, UserView>,
    /// When it was posted, each version landed, and each click arrived.
    pub moments: MessageMoments,
}

impl StoredActivity {
    pub fn latest(&self) -> &Value {
        self.versions.last().expect("an activity has a version")
    }
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: String,
    pub kind: ConversationKind,
    pub activities: Vec<StoredActivity>,
}

#[derive(Debug)]
pub struct TeamsStore {
    /// Entra object id → the app installed in their personal scope (by
    /// themselves through the driver, or by the bot through Graph).
    pub installs: BTreeMap<String, Install>,
    /// Users a Teams app permission policy blocks the app for: Graph
    /// refuses to install it for them (403).
    pub app_blocked_for: BTreeSet<String>,
    /// The app was removed from the org catalog: Graph finds nothing.
    pub catalog_removed: bool,
    pub teams: Vec<Team>,
    pub conversations: BTreeMap<String, Conversation>,
    last_message_id: i64,
}

impl Default for TeamsStore {
    fn default() -> Self {
        Self {
            installs: BTreeMap::new(),
            app_blocked_for: BTreeSet::new(),
            catalog_removed: false,
            teams: vec![Team {
                id: TEAM_ID.into(),
                name: TEAM_NAME.into(),
                aad_group_id: TEAM_AAD_GROUP_ID.into(),
                bot_installed: false,
                channels: vec![
                    Channel {
                        id: TEAM_ID.into(),
                        name: "General".into(),
                    },
                    Channel {
                        id: ALERTS_CHANNEL_ID.into(),
                        name: "Privileged access alerts".into(),
                    },
                ],
            }],
            conversations: BTreeMap::new(),
            last_message_id: 0,
        }
    }
}

impl TeamsStore {
    /// A new message id. Teams message ids are epoch milliseconds
    /// (`"1485983408511"` in the docs); kept unique and increasing.
    pub fn next_message_id(&mut self) -> String {
        let now = chrono::Utc::now().timestamp_millis();
        self.last_message_id = now.max(self.last_message_id + 1);
        self.last_message_id.to_string()
    }

    /// The team a channel belongs to, and the channel.
    pub fn channel(&self, channel_id: &str) -> Option<(&Team, &Channel)> {
        self.teams.iter().find_map(|t| {
            t.channels
                .iter()
                .find(|c| c.id == channel_id)
                .map(|c| (t, c))
        })
    }

    /// Whether the bot may post in a conversation: installed by the user
    /// and not blocked (personal), or installed in the team (channel).
    pub fn bot_status(&self, kind: &ConversationKind) -> BotStatus {
        match kind {
            ConversationKind::Personal { user } => match self.installs.get(user) {
                Some(install) if install.blocked => BotStatus::Blocked,
                Some(_) => BotStatus::Member,
                None => BotStatus::NotMember,
            },
            ConversationKind::Channel { channel_id }
            | ConversationKind::Thread { channel_id, .. } => match self.channel(channel_id) {
                Some((team, _)) if team.bot_installed => BotStatus::Member,
                _ => BotStatus::NotMember,
            },
        }
    }

    /// Finds a conversation, materialising channel and thread conversations
    /// (they exist in Teams whether or not the bot has posted there).
    pub fn conversation_mut(&mut self, id: &str) -> Option<&mut Conversation> {
        if !self.conversations.contains_key(id) {
            let kind = match id.split_once(";messageid=") {
                Some((channel, root)) => {
                    self.channel(channel)?;
                    let exists = self
                        .conversations
                        .get(channel)
                        .is_some_and(|c| c.activities.iter().any(|a| a.id == root));
                    if !exists {
                        return None;
                    }
                    ConversationKind::Thread {
                        channel_id: channel.to_owned(),
                        root: root.to_owned(),
                    }
                }
                None => {
                    self.channel(id)?;
                    ConversationKind::Channel {
                        channel_id: id.to_owned(),
                    }
                }
            };
            self.conversations.insert(
                id.to_owned(),
                Conversation {
                    id: id.to_owned(),
                    kind,
                    activities: Vec::new(),
                },
            );
        }
        self.conversations.get_mut(id)
    }

    /// The personal conversation of `user`, created on first use.
    pub fn personal_mut(&mut self, id: &str, user: &str) -> &mut Conversation {
        self.conversations
            .entry(id.to_owned())
            .or_insert_with(|| Conversation {
                id: id.to_owned(),
                kind: ConversationKind::Personal {
                    user: user.to_owned(),
                },
                activities: Vec::new(),
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotStatus {
    Member,
    NotMember,
    Blocked,
}

impl Conversation {
    pub fn activity(&self, id: &str) -> Option<&StoredActivity> {
        self.activities.iter().find(|a| a.id == id)
    }

    pub fn activity_mut(&mut self, id: &str) -> Option<&mut StoredActivity> {
        self.activities.iter_mut().find(|a| a.id == id)
    }

    pub fn push(&mut self, id: String, from_bot: bool, activity: Value) {
        self.activities.push(StoredActivity {
            id,
            from_bot,
            versions: vec![activity],
            user_views: BTreeMap::new(),
            moments: MessageMoments::posted_now(),
        });
    }

    /// The conversation as `viewer` (an Entra object id) sees it: the latest
    /// version of every activity, or the viewer's own card if they clicked
    /// since the last update.
    pub fn view(&self, viewer: Option<&str>) -> Value {
        let activities: Vec<Value> = self.activities.iter().map(|a| render(a, viewer)).collect();
        json!({ "conversationId": self.id, "activities": activities })
    }
}

/// One activity as a client shows it, with `version` (1 = never updated).
pub fn render(activity: &StoredActivity, viewer: Option<&str>) -> Value {
    let mut shown = activity.latest().clone();
    let own = viewer
        .and_then(|v| activity.user_views.get(v))
        .filter(|view| view.base_version == activity.versions.len());
    if let (Some(view), Some(obj)) = (own, shown.as_object_mut()) {
        obj.insert(
            "attachments".into(),
            json!([{ "contentType": crate::teams::driver::CARD_CONTENT_TYPE, "content": view.card }]),
        );
    }
    if let Some(obj) = shown.as_object_mut() {
        obj.insert("version".into(), json!(activity.versions.len()));
    }
    shown
}
