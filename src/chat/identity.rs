//! Who someone is in chat, independent of platform: the key the chat
//! adapters hand the engine and the store files links and alerts under.

/// Who someone is in chat: platform, workspace (tenant or Slack team), user.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ChatIdentity {
    pub platform: String,
    pub workspace: String,
    pub user: String,
}

impl std::fmt::Display for ChatIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.platform, self.workspace, self.user)
    }
}
