//! `[engine]`: the access packages chat may request, limits, timers and
//! the security channel.

use serde::{Deserialize, Serialize};

/// The approval engine: which access packages chat may request, limits,
/// timers and the security channel.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// Packages people may ask for by alias.
    pub packages: Vec<PackageSettings>,
    /// Minutes before a stage's decision deadline that approvers are reminded.
    pub reminder_lead_minutes: i64,
    /// Minutes before an assignment expires that the requester is warned.
    pub expiry_warning_minutes: i64,
    /// Chat commands one person may send per minute before "slow down".
    pub commands_per_minute: u32,
    /// Card clicks (approve, deny, activate, extend) one person may make
    /// per minute before "slow down".
    pub clicks_per_minute: u32,
    /// Messages per second sent to one destination (person or channel), on
    /// top of the platforms' own limits, which the chat clients always keep;
    /// 0 (the default) adds no cap of our own.
    pub messages_per_second_per_destination: u32,
    /// Seconds an outbox job stays claimed before another worker may retry it.
    pub outbox_lease_seconds: i64,
    /// Attempts before an outbox job is given up (and logged).
    pub outbox_max_attempts: i64,
    /// Seconds a post whose answer was lost (the bot killed, the connection
    /// dropped) is given to land before the bot looks for it in the chat
    /// instead of posting again.
    pub outbox_settle_seconds: i64,
    /// Platform (`teams` or `slack`) and channel id of one security channel
    /// (the single-table form, kept for existing configs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_channel: Option<SecurityChannelSettings>,
    /// Security channels, on one platform or both; every alert goes to each
    /// (one outbox job per channel). Alerts are only logged when neither
    /// this nor `security_channel` is set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_channels: Vec<SecurityChannelSettings>,
}

impl EngineSettings {
    /// Every configured security channel, `security_channel` first, each once.
    #[must_use]
    pub fn all_security_channels(&self) -> Vec<SecurityChannelSettings> {
        let mut all: Vec<SecurityChannelSettings> = Vec::new();
        for channel in self
            .security_channel
            .iter()
            .chain(self.security_channels.iter())
        {
            if !all.contains(channel) {
                all.push(channel.clone());
            }
        }
        all
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            packages: Vec::new(),
            reminder_lead_minutes: 120,
            expiry_warning_minutes: 60,
            commands_per_minute: 20,
            clicks_per_minute: 30,
            messages_per_second_per_destination: 0,
            outbox_lease_seconds: 60,
            outbox_max_attempts: 10,
            outbox_settle_seconds: 15,
            security_channel: None,
            security_channels: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityChannelSettings {
    pub platform: String,
    pub channel: String,
}

/// One requestable access package.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSettings {
    /// What people type: `request <alias> <ticket> …`.
    pub alias: String,
    pub display_name: String,
    pub access_package_id: String,
    pub policy_id: String,
    /// The policy's ticket question (`accessPackageTextInputQuestion` id).
    pub ticket_question_id: String,
    /// Regular expression a ticket must match entirely.
    pub ticket_pattern: String,
    /// The PIM-managed group the package makes the requester eligible for.
    pub group_id: String,
    /// The Entra role the group carries, for cards and alerts.
    #[serde(default)]
    pub role: Option<String>,
    /// Ticket system name sent with activations (`ticketInfo.ticketSystem`).
    #[serde(default = "default_ticket_system")]
    pub ticket_system: String,
    #[serde(default)]
    pub justification_required: bool,
    #[serde(default)]
    pub hidden: bool,
    /// Approvers of this package must have signed in with multifactor
    /// authentication within `approval_mfa_max_age_minutes` before a
    /// decision is relayed; otherwise they get a step-up sign-in link and
    /// the decision completes by itself afterwards.
    #[serde(default)]
    pub approval_requires_mfa: bool,
    #[serde(default = "default_approval_mfa_max_age_minutes")]
    pub approval_mfa_max_age_minutes: u32,
}

fn default_approval_mfa_max_age_minutes() -> u32 {
    10
}

fn default_ticket_system() -> String {
    "ITSM".into()
}
