//! Reading the latency records of one fan-out from the emulators.

use std::collections::HashSet;

use super::{LatencyFigures, PostedCard, RequestRecord, StageRecord, measure};
use crate::load::swarm::Platform;
use crate::load::swarm::records::{Directory, approve_data_of_activity};
use stagegate_sandbox::SimState;
use stagegate_sandbox::slack::state::ChannelKind;
use stagegate_sandbox::teams::store::ConversationKind;

/// The latency figures of the requests `requesters` (persona keys) made on
/// `platform`, read after the run.
#[must_use]
pub fn collect(state: &SimState, platform: Platform, requesters: &[String]) -> LatencyFigures {
    let dir = Directory::of(state);
    let wanted: HashSet<&String> = requesters.iter().collect();
    let requests: Vec<RequestRecord> = {
        let world = state.world();
        world
            .requests
            .values()
            .filter(|r| {
                dir.key_of_aad
                    .get(&r.target_id)
                    .is_some_and(|k| wanted.contains(k))
            })
            .map(|r| RequestRecord {
                id: r.id.clone(),
                created: r.created_at,
                stages: r
                    .stages
                    .iter()
                    .map(|s| StageRecord {
                        id: s.id.clone(),
                        decided: s.reviewed_by.clone().zip(s.decided_at),
                    })
                    .collect(),
            })
            .collect()
    };
    measure(&requests, &posted_cards(state, &dir, platform))
}

/// Every approval card posted in a person's chat with the bot on
/// `platform`, as first posted, with when it was posted, updated and
/// clicked (clicks by Entra object id on both platforms).
#[must_use]
pub fn posted_cards(state: &SimState, dir: &Directory, platform: Platform) -> Vec<PostedCard> {
    let mut out = Vec::new();
    match platform {
        Platform::Teams => {
            let store = state.teams.store();
            for c in store.conversations.values() {
                let ConversationKind::Personal { user } = &c.kind else {
                    continue;
                };
                for a in c.activities.iter().filter(|a| a.from_bot) {
                    if let Some((request, stage)) = approve_data_of_activity(&a.versions[0]) {
                        out.push(PostedCard {
                            holder: user.clone(),
                            request,
                            stage,
                            moments: a.moments.clone(),
                        });
                    }
                }
            }
        }
        Platform::Slack => {
            let aad_of_slack = |id: &str| {
                dir.key_of_slack
                    .get(id)
                    .and_then(|k| dir.aad_of_key.get(k))
                    .cloned()
            };
            let slack = state.slack.lock();
            for c in slack.channels.values() {
                let ChannelKind::Im { user } = &c.kind else {
                    continue;
                };
                let Some(holder) = aad_of_slack(user) else {
                    continue;
                };
                for m in c.messages.iter().filter(|m| m.user.is_none()) {
                    let Some((request, stage)) = m.posted_card.clone() else {
                        continue;
                    };
                    let mut moments = m.moments.clone();
                    for (who, _) in &mut moments.clicked {
                        *who = aad_of_slack(who).unwrap_or_default();
                    }
                    out.push(PostedCard {
                        holder: holder.clone(),
                        request,
                        stage,
                        moments,
                    });
                }
            }
        }
    }
    out
}
