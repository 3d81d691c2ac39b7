//! The bot's killer: SIGKILLs the bot process at planned moments — when an
//! emulator tripwire reports the bot mid-delivery, mid-relay or
//! mid-activation, or at a random instant — and restarts it on the same
//! database.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::bot_process::{BotProcess, BotProcessSpec};
use stagegate_sandbox::SimState;
use stagegate_sandbox::tripwire::{Fired, Moment};

/// When a kill lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KillMoment {
    /// With a Bot Connector / Slack post in flight.
    OutboxDelivery,
    /// With a decision `PATCH` to Graph in flight.
    DecisionRelay,
    /// With a PIM activation in flight.
    Activation,
    /// At a random instant.
    Random,
}

impl From<Moment> for KillMoment {
    fn from(m: Moment) -> Self {
        match m {
            Moment::OutboxDelivery => Self::OutboxDelivery,
            Moment::DecisionRelay => Self::DecisionRelay,
            Moment::Activation => Self::Activation,
        }
    }
}

/// One kill that happened.
#[derive(Debug, Clone, Serialize)]
pub struct Kill {
    pub moment: KillMoment,
    /// Seconds since the run started.
    pub at_seconds: f64,
    /// How long the restarted bot took to be ready again.
    pub restart_ms: u64,
    /// A tripwire planned but not reached in time became a random kill.
    pub fell_back: bool,
}

/// How long a planned moment may take to come before the kill falls back
/// to a random one. Long: in a large run decisions and activations begin
/// minutes in (after linking and the first cards), and a kill that should
/// land mid-relay or mid-activation must not land elsewhere for want of
/// patience.
const TRIPWIRE_PATIENCE: Duration = Duration::from_secs(600);

/// The plan: `kills` moments, seeded, tripwire moments first in shuffled
/// order and activations last (activations happen late in a run).
pub fn plan(kills: usize, seed: u64) -> Vec<KillMoment> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cycle = [
        KillMoment::OutboxDelivery,
        KillMoment::DecisionRelay,
        KillMoment::Random,
        KillMoment::Activation,
    ];
    let mut moments: Vec<KillMoment> = (0..kills).map(|i| cycle[i % cycle.len()]).collect();
    moments.shuffle(&mut rng);
    moments.sort_by_key(|m| *m == KillMoment::Activation);
    moments
}

/// The bot process the killer owns and restarts.
pub struct Victim {
    pub spec: BotProcessSpec,
    pub bot: BotProcess,
    /// Where the bot's stderr goes, across restarts.
    pub log: Option<PathBuf>,
}

/// Runs the kill plan until done or `stop` turns true; returns the kills
/// and the bot running at the end.
pub async fn run(
    state: SimState,
    victim: Victim,
    moments: Vec<KillMoment>,
    seed: u64,
    started: Instant,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(Vec<Kill>, BotProcess)> {
    let Victim { spec, mut bot, log } = victim;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x00C0_FFEE);
    let mut fired: mpsc::UnboundedReceiver<Fired> = state
        .chaos
        .take_fired()
        .ok_or_else(|| anyhow::anyhow!("the sandbox's tripwires are already in use"))?;
    let mut kills = Vec::new();
    for planned in moments {
        // Let the restarted bot make some progress first.
        let pause = Duration::from_millis(rng.gen_range(300..1500));
        if wait_or_stop(&mut stop, pause).await {
            break;
        }
        let (moment, release, fell_back) = match planned {
            KillMoment::Random => (KillMoment::Random, None, false),
            other => {
                let wire = match other {
                    KillMoment::OutboxDelivery => Moment::OutboxDelivery,
                    KillMoment::DecisionRelay => Moment::DecisionRelay,
                    _ => Moment::Activation,
                };
                // Activations are few (one per activator, plus the step-up
                // retry): the very next one. Others: one of the next few.
                let nth = if wire == Moment::Activation {
                    1
                } else {
                    rng.gen_range(1..5)
                };
                state.chaos.arm(wire, nth);
                tokio::select! {
                    Some(f) = fired.recv() => (f.moment.into(), Some(f.release), false),
                    _ = tokio::time::sleep(TRIPWIRE_PATIENCE) => {
                        state.chaos.disarm();
                        (KillMoment::Random, None, true)
                    }
                    _ = stop.wait_for(|s| *s) => {
                        state.chaos.disarm();
                        break;
                    }
                }
            }
        };
        let at_seconds = started.elapsed().as_secs_f64();
        bot.kill()?;
        if let Some(release) = release {
            let _ = release.send(());
        }
        let restarted = BotProcess::start(&spec, log.as_deref()).await?;
        kills.push(Kill {
            moment,
            at_seconds,
            restart_ms: restarted.ready_after.as_millis() as u64,
            fell_back,
        });
        bot = restarted;
    }
    Ok((kills, bot))
}

/// Sleeps `pause`; `true` when `stop` turned true meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(pause) => false,
        _ = stop.wait_for(|s| *s) => true,
    };
    stopped || *stop.borrow()
}

/// Kills per moment.
pub fn by_moment(kills: &[Kill]) -> BTreeMap<KillMoment, usize> {
    let mut out = BTreeMap::new();
    for k in kills {
        *out.entry(k.moment).or_insert(0) += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_seeded_and_puts_activations_last() {
        assert_eq!(plan(10, 7), plan(10, 7));
        let p = plan(10, 7);
        assert_eq!(p.len(), 10);
        let first_activation = p.iter().position(|m| *m == KillMoment::Activation).unwrap();
        assert!(
            p[first_activation..]
                .iter()
                .all(|m| *m == KillMoment::Activation)
        );
        assert!(p.contains(&KillMoment::OutboxDelivery) && p.contains(&KillMoment::DecisionRelay));
    }
}
