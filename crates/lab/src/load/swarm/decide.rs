//! The swarm's main loop: approvers click as their cards arrive, activators
//! activate once delivered, until all is done or the deadline passes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::{Swarm, SwarmOptions, SwarmOutcome, note, records};

/// How often the loop looks at the chats when nothing finished meanwhile.
const TICK: Duration = Duration::from_millis(25);

/// What a finished persona action was.
enum Done {
    Approved { request: String, stage: String },
    Activated,
}

/// Where a requester's request stands in Graph.
struct Progress {
    /// Requester key → (request id, delivered).
    requests: HashMap<String, (String, bool)>,
    /// (request, stage) already decided in Graph.
    decided: HashSet<(String, String)>,
    /// Requesters active in the PIM group.
    active: HashSet<String>,
}

impl Swarm {
    fn progress(&self, options: &SwarmOptions) -> Progress {
        let wanted: HashSet<&String> = options.requesters.iter().collect();
        let world = self.state.world();
        let mut requests: HashMap<String, (String, chrono::DateTime<chrono::Utc>, bool)> =
            HashMap::new();
        let mut decided = HashSet::new();
        for r in world.requests.values() {
            let Some(key) = self.dir.key_of_aad.get(&r.target_id) else {
                continue;
            };
            if !wanted.contains(key) {
                continue;
            }
            for s in &r.stages {
                if s.review_result != "NotReviewed" {
                    decided.insert((r.id.clone(), s.id.clone()));
                }
            }
            let newer = requests.get(key).is_none_or(|(_, at, _)| *at < r.created);
            if newer {
                requests.insert(
                    key.clone(),
                    (r.id.clone(), r.created, r.state == "delivered"),
                );
            }
        }
        let pim_members: HashSet<&String> = world
            .groups
            .values()
            .filter(|g| g.key == super::tenant_gen::PIM_GROUP_KEY)
            .flat_map(|g| g.members.iter())
            .collect();
        let active = options
            .activators
            .iter()
            .filter(|k| {
                self.dir
                    .aad_of_key
                    .get(*k)
                    .is_some_and(|id| pim_members.contains(id))
            })
            .cloned()
            .collect();
        Progress {
            requests: requests
                .into_iter()
                .map(|(k, (id, _, delivered))| (k, (id, delivered)))
                .collect(),
            decided,
            active,
        }
    }

    pub(super) async fn decide_and_activate(
        &self,
        options: &SwarmOptions,
        outcome: &mut SwarmOutcome,
        deadline: Instant,
    ) {
        let platform = options.platform;
        let mut tried: HashMap<String, Instant> = HashMap::new();
        let mut busy: HashSet<String> = HashSet::new();
        let mut tasks: JoinSet<(String, anyhow::Result<Done>)> = JoinSet::new();
        loop {
            while let Some(joined) = tasks.try_join_next() {
                let Ok((holder, result)) = joined else {
                    continue;
                };
                busy.remove(&holder);
                match result {
                    Ok(Done::Approved { request, stage }) => {
                        outcome.acknowledged.insert((request, stage));
                    }
                    Ok(Done::Activated) => {}
                    Err(e) => note(outcome, e),
                }
            }
            let looked = Instant::now();
            let progress = self.progress(options);
            let all_delivered = options
                .requesters
                .iter()
                .all(|k| progress.requests.get(k).is_some_and(|(_, d)| *d));
            let all_active = options
                .activators
                .iter()
                .all(|k| progress.active.contains(k));
            // Done when delivered, active, and no card of ours still shows
            // buttons (the bot retires cards after Graph moves on).
            let live = records::live_cards(&self.state, &self.dir, platform);
            let ours: HashSet<&String> = progress.requests.values().map(|(id, _)| id).collect();
            let settled = !live.iter().any(|c| ours.contains(&c.request));
            // ... and both security channels have heard of every activation.
            let alerted = || {
                let alerts = records::security_alerts(&self.state);
                options.activators.iter().all(|k| {
                    progress.requests.get(k).is_some_and(|(id, _)| {
                        records::activation_alerts(&alerts, id)
                            .iter()
                            .all(|n| *n > 0)
                    })
                })
            };
            if all_delivered && all_active && settled && tasks.is_empty() && alerted() {
                break;
            }
            if Instant::now() > deadline {
                outcome.timed_out = true;
                tasks.abort_all();
                break;
            }
            let recently = |tried: &HashMap<String, Instant>, what: &str| {
                tried
                    .get(what)
                    .is_some_and(|at| at.elapsed() < options.retry_after)
            };
            for card in live {
                let what = format!("{}/{}", card.request, card.stage);
                if tasks.len() >= options.concurrency
                    || busy.contains(&card.holder)
                    || progress
                        .decided
                        .contains(&(card.request.clone(), card.stage.clone()))
                    || recently(&tried, &what)
                {
                    continue;
                }
                tried.insert(what, Instant::now());
                busy.insert(card.holder.clone());
                outcome.clicks += 1;
                let swarm = self.clone();
                tasks.spawn(async move {
                    let result = swarm
                        .approve(platform, &card)
                        .await
                        .map(|()| Done::Approved {
                            request: card.request.clone(),
                            stage: card.stage.clone(),
                        });
                    (
                        card.holder.clone(),
                        result.map_err(|e| anyhow::anyhow!("{}: {e:#}", card.holder)),
                    )
                });
            }
            for key in &options.activators {
                let delivered = progress.requests.get(key).is_some_and(|(_, d)| *d);
                let what = format!("activate/{key}");
                if !delivered
                    || tasks.len() >= options.concurrency
                    || progress.active.contains(key)
                    || busy.contains(key)
                    || recently(&tried, &what)
                {
                    continue;
                }
                let Some(prompt) =
                    records::activation_prompt(&self.state, &self.dir, platform, key)
                else {
                    continue;
                };
                tried.insert(what, Instant::now());
                busy.insert(key.clone());
                let (swarm, key) = (self.clone(), key.clone());
                tasks.spawn(async move {
                    let result = swarm
                        .activate(platform, &key, &prompt)
                        .await
                        .map(|()| Done::Activated);
                    (
                        key.clone(),
                        result.map_err(|e| anyhow::anyhow!("{key}: {e:#}")),
                    )
                });
            }
            // Reading every chat costs more as they fill: look again no
            // sooner than four times what this look took.
            let pause = TICK.max(looked.elapsed() * 4);
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    let Ok((holder, result)) = joined else { continue };
                    busy.remove(&holder);
                    match result {
                        Ok(Done::Approved { request, stage }) => {
                            outcome.acknowledged.insert((request, stage));
                        }
                        Ok(Done::Activated) => {}
                        Err(e) => note(outcome, e),
                    }
                }
            }
        }
    }
}
