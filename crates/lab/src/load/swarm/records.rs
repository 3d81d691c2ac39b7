//! Reading the emulators' chat records the way each persona's client shows
//! them: live approval cards, sign-in links, activation prompts, and every
//! approval card ever posted (for the duplicate count).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::Platform;
use stagegate_sandbox::SimState;
use stagegate_sandbox::slack::buttons::{request_and_stage, slack_approve, slack_buttons};
use stagegate_sandbox::slack::state::ChannelKind;
use stagegate_sandbox::teams::store::{ConversationKind, StoredActivity, render};

/// An approval card with live Approve/Deny buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCard {
    /// Persona key of the holder.
    pub holder: String,
    /// Teams activity id or Slack message ts.
    pub handle: String,
    pub request: String,
    pub stage: String,
}

/// Who is who on every platform, computed once per run.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Entra object id → persona key.
    pub key_of_aad: HashMap<String, String>,
    /// Persona key → Entra object id.
    pub aad_of_key: HashMap<String, String>,
    /// Slack user id → persona key.
    pub key_of_slack: HashMap<String, String>,
    /// Persona key → Slack DM channel id with the bot.
    pub slack_dm: HashMap<String, String>,
}

impl Directory {
    pub fn of(state: &SimState) -> Self {
        let mut d = Self::default();
        for u in state.world().users.values() {
            d.key_of_aad.insert(u.id.clone(), u.key.clone());
            d.aad_of_key.insert(u.key.clone(), u.id.clone());
        }
        let slack = state.slack.lock();
        for u in slack.users.values() {
            d.key_of_slack.insert(u.id.clone(), u.key.clone());
        }
        for c in slack.channels.values() {
            if let ChannelKind::Im { user } = &c.kind
                && let Some(key) = d.key_of_slack.get(user)
            {
                d.slack_dm.insert(key.clone(), c.id.clone());
            }
        }
        d
    }
}

/// `(request, stage)` of an approve button's data, wherever it sits.
/// What `viewer` sees of `activity` without copying it (as [`render`]
/// decides: their own card after a click, until the bot updates it again).
fn shown_to<'a>(activity: &'a StoredActivity, viewer: &str) -> &'a Value {
    match activity.user_views.get(viewer) {
        Some(view) if view.base_version == activity.versions.len() => &view.card,
        _ => &activity.latest()["attachments"][0]["content"],
    }
}

/// Teams: the card a rendered activity carries.
fn teams_card(activity: &Value) -> Option<&Value> {
    activity["attachments"][0]
        .get("content")
        .filter(|c| !c.is_null())
}

fn teams_approve(card: &Value) -> Option<(String, String)> {
    card["actions"]
        .as_array()?
        .iter()
        .find(|a| a["type"] == "Action.Execute" && a["verb"] == "approve")
        .and_then(|a| request_and_stage(&a["data"]))
}

fn teams_has_verb(card: &Value, verb: &str) -> bool {
    card["actions"].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x["type"] == "Action.Execute" && x["verb"] == verb)
    })
}

/// Every live approval card on `platform`, as each holder sees it.
pub fn live_cards(state: &SimState, dir: &Directory, platform: Platform) -> Vec<LiveCard> {
    let mut out = Vec::new();
    match platform {
        Platform::Teams => {
            let store = state.teams.store();
            for c in store.conversations.values() {
                let ConversationKind::Personal { user } = &c.kind else {
                    continue;
                };
                let Some(holder) = dir.key_of_aad.get(user) else {
                    continue;
                };
                for a in c.activities.iter().filter(|a| a.from_bot) {
                    if let Some((request, stage)) = teams_approve(shown_to(a, user)) {
                        out.push(LiveCard {
                            holder: holder.clone(),
                            handle: a.id.clone(),
                            request,
                            stage,
                        });
                    }
                }
            }
        }
        Platform::Slack => {
            let slack = state.slack.lock();
            for c in slack.channels.values() {
                let ChannelKind::Im { user } = &c.kind else {
                    continue;
                };
                let Some(holder) = dir.key_of_slack.get(user) else {
                    continue;
                };
                for m in c.messages.iter().filter(|m| m.user.is_none()) {
                    if let Some((request, stage)) = slack_approve(&m.blocks) {
                        out.push(LiveCard {
                            holder: holder.clone(),
                            handle: m.ts.clone(),
                            request,
                            stage,
                        });
                    }
                }
            }
        }
    }
    out
}

/// Sign-in links in `key`'s chat with the bot, oldest first.
pub fn sign_in_links(
    state: &SimState,
    dir: &Directory,
    platform: Platform,
    key: &str,
) -> Vec<String> {
    match platform {
        Platform::Teams => {
            let Some(aad) = dir.aad_of_key.get(key) else {
                return Vec::new();
            };
            let store = state.teams.store();
            let app_id = state.world().app.client_id.clone();
            let id = stagegate_sandbox::teams::personal_conversation_id(&app_id, aad);
            let Some(c) = store.conversations.get(&id) else {
                return Vec::new();
            };
            c.activities
                .iter()
                .filter(|a| a.from_bot)
                .filter_map(|a| {
                    let shown = render(a, Some(aad));
                    teams_card(&shown)?["actions"]
                        .as_array()?
                        .iter()
                        .find(|x| x["type"] == "Action.OpenUrl")?["url"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect()
        }
        Platform::Slack => slack_dm(state, dir, key)
            .iter()
            .flat_map(|blocks| slack_buttons(blocks))
            .filter(|(a, _)| a == "sign_in")
            .map(|(_, url)| url)
            .collect(),
    }
}

/// What `key` sees in their DM with the bot, oldest first: the bot's
/// messages and the ephemeral answers shown only to them.
fn slack_dm(state: &SimState, dir: &Directory, key: &str) -> Vec<Vec<Value>> {
    let Some(dm) = dir.slack_dm.get(key) else {
        return Vec::new();
    };
    let slack = state.slack.lock();
    let Some(user) = slack.user_by_key(key).map(|u| u.id.clone()) else {
        return Vec::new();
    };
    let mut shown: Vec<(f64, Vec<Value>)> = slack
        .channels
        .get(dm)
        .map(|c| {
            c.messages
                .iter()
                .filter(|m| m.user.is_none())
                .map(|m| (m.ts.parse().unwrap_or(0.0), m.blocks.clone()))
                .collect()
        })
        .unwrap_or_default();
    shown.extend(
        slack
            .ephemerals
            .iter()
            .filter(|e| &e.channel == dm && e.user == user)
            .map(|e| (e.ts.parse().unwrap_or(0.0), e.blocks.clone())),
    );
    shown.sort_by(|a, b| a.0.total_cmp(&b.0));
    shown.into_iter().map(|(_, b)| b).collect()
}

/// The handle of a live activation prompt in `key`'s chat, if any.
pub fn activation_prompt(
    state: &SimState,
    dir: &Directory,
    platform: Platform,
    key: &str,
) -> Option<String> {
    match platform {
        Platform::Teams => {
            let aad = dir.aad_of_key.get(key)?;
            let app_id = state.world().app.client_id.clone();
            let id = stagegate_sandbox::teams::personal_conversation_id(&app_id, aad);
            let store = state.teams.store();
            let c = store.conversations.get(&id)?;
            c.activities
                .iter()
                .rev()
                .filter(|a| a.from_bot)
                .find_map(|a| {
                    let shown = render(a, Some(aad));
                    teams_card(&shown)
                        .filter(|card| teams_has_verb(card, "activate"))
                        .map(|_| a.id.clone())
                })
        }
        Platform::Slack => {
            let dm = dir.slack_dm.get(key)?;
            let slack = state.slack.lock();
            let c = slack.channels.get(dm)?;
            c.messages
                .iter()
                .rev()
                .filter(|m| m.user.is_none())
                .find_map(|m| {
                    slack_buttons(&m.blocks)
                        .iter()
                        .any(|(a, _)| a.starts_with("activate_"))
                        .then(|| m.ts.clone())
                })
        }
    }
}

/// How many approval cards each (request, stage, holder) ever got on
/// `platform`. Teams keeps every version of an activity, so the first
/// version tells what was posted; Slack's posts are counted by the emulator
/// as they arrive ([`stagegate_sandbox::tripwire::Records`]).
pub fn cards_posted(
    state: &SimState,
    dir: &Directory,
    platform: Platform,
) -> BTreeMap<(String, String, String), u32> {
    let mut out = BTreeMap::new();
    match platform {
        Platform::Teams => {
            let store = state.teams.store();
            for c in store.conversations.values() {
                let ConversationKind::Personal { user } = &c.kind else {
                    continue;
                };
                let holder = dir.key_of_aad.get(user).cloned().unwrap_or_default();
                for a in c.activities.iter().filter(|a| a.from_bot) {
                    let first = &a.versions[0];
                    if let Some((r, s)) = teams_card(first).and_then(teams_approve) {
                        *out.entry((r, s, holder.clone())).or_insert(0) += 1;
                    }
                }
            }
        }
        Platform::Slack => {
            for ((channel, r, s), n) in state.chaos.slack_cards_posted() {
                let holder = dir
                    .slack_dm
                    .iter()
                    .find(|(_, dm)| **dm == channel)
                    .map(|(k, _)| k.clone())
                    .unwrap_or(channel);
                out.insert((r, s, holder), n);
            }
        }
    }
    out
}

/// Approval cards still showing Approve/Deny to anyone on `platform`.
pub fn live_card_count(state: &SimState, dir: &Directory, platform: Platform) -> usize {
    live_cards(state, dir, platform).len()
}

/// The Teams approve-button parser: `(request, stage)` of the card a bot
/// activity carries, public for the bench's latencies.
pub fn approve_data_of_activity(activity: &Value) -> Option<(String, String)> {
    teams_card(activity).and_then(teams_approve)
}

/// The alert every activation through the bot raises.
pub const ACTIVATED: &str = "Privileged role activated through stagegate";

/// How many activation alerts name `request` in the Teams and in the Slack
/// security channel.
pub fn activation_alerts(alerts: &[(Platform, String)], request: &str) -> [usize; 2] {
    let mut counts = [0, 0];
    for (platform, text) in alerts {
        if text.contains(ACTIVATED) && text.contains(request) {
            counts[usize::from(*platform == Platform::Slack)] += 1;
        }
    }
    counts
}

/// Every message the bot posted to a security channel, as `(platform,
/// text)`: the Teams alerts channel (its threads included) and the Slack
/// security channel, latest versions.
pub fn security_alerts(state: &SimState) -> Vec<(Platform, String)> {
    use stagegate_sandbox::slack::SECURITY_CHANNEL;
    use stagegate_sandbox::teams::store::ALERTS_CHANNEL_ID;
    let mut out = Vec::new();
    {
        let store = state.teams.store();
        for c in store.conversations.values() {
            let alerts = match &c.kind {
                ConversationKind::Channel { channel_id }
                | ConversationKind::Thread { channel_id, .. } => channel_id == ALERTS_CHANNEL_ID,
                ConversationKind::Personal { .. } => false,
            };
            if alerts {
                out.extend(
                    c.activities
                        .iter()
                        .filter(|a| a.from_bot)
                        .map(|a| (Platform::Teams, a.latest().to_string())),
                );
            }
        }
    }
    let slack = state.slack.lock();
    for c in slack
        .channels
        .values()
        .filter(|c| c.name == SECURITY_CHANNEL)
    {
        out.extend(
            c.messages
                .iter()
                .filter(|m| m.user.is_none())
                .map(|m| (Platform::Slack, format!("{} {:?}", m.text, m.blocks))),
        );
    }
    out
}
