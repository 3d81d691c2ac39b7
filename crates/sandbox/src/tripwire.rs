//! Hooks for chaos runs: tripwires that make a crash land at a chosen
//! moment, and records of what reached the emulators that invariants need.
//!
//! A tripwire is armed for the Nth request of a kind (a Bot Connector or
//! Slack post = outbox delivery, a Graph approval-stage `PATCH` = decision
//! relay, a PIM schedule request = activation). When that request arrives
//! the emulator reports it on the [`Fired`] channel and holds the request
//! until the driver says the bot is dead, then answers 503 without
//! processing it: the bot dies with the request in flight, every time, not
//! by timing luck. With nothing armed, [`ChaosHooks::pass`] only counts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// Where in the bot's work a crash lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// The outbox worker posting to the Bot Connector or Slack.
    OutboxDelivery,
    /// Relaying an approver's decision to Graph.
    DecisionRelay,
    /// A PIM for Groups activation (`selfActivate`).
    Activation,
}

/// How long a held request waits for the driver's release.
const HOLD_AT_MOST: Duration = Duration::from_secs(20);

/// A tripwire that went off: kill the bot, then send on `release`.
#[derive(Debug)]
pub struct Fired {
    pub moment: Moment,
    pub release: oneshot::Sender<()>,
}

/// One approver's decision `PATCH`es for one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DecisionTally {
    /// Answered 204: the decision was recorded.
    pub applied: u32,
    /// Arrived after this approver's decision was already recorded: a
    /// decision relayed twice.
    pub repeated: u32,
}

#[derive(Default)]
struct Inner {
    passes: HashMap<Moment, u64>,
    /// (moment, pass number that fires).
    armed: Vec<(Moment, u64)>,
    decisions: BTreeMap<(String, String, String), DecisionTally>,
    slack_cards: BTreeMap<(String, String, String), u32>,
}

/// The chaos hooks of one sandbox.
pub struct ChaosHooks {
    inner: Mutex<Inner>,
    fired_tx: mpsc::UnboundedSender<Fired>,
    fired_rx: Mutex<Option<mpsc::UnboundedReceiver<Fired>>>,
}

impl std::fmt::Debug for ChaosHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaosHooks").finish_non_exhaustive()
    }
}

impl Default for ChaosHooks {
    fn default() -> Self {
        let (fired_tx, rx) = mpsc::unbounded_channel();
        Self {
            inner: Mutex::default(),
            fired_tx,
            fired_rx: Mutex::new(Some(rx)),
        }
    }
}

impl ChaosHooks {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The channel fired tripwires arrive on (once; `None` afterwards).
    pub fn take_fired(&self) -> Option<mpsc::UnboundedReceiver<Fired>> {
        self.fired_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Arms a tripwire on the `nth` (1 = next) request of `moment` from now.
    pub fn arm(&self, moment: Moment, nth: u64) {
        let mut inner = self.lock();
        let at = inner.passes.get(&moment).copied().unwrap_or(0) + nth.max(1);
        inner.armed.push((moment, at));
    }

    /// Disarms every tripwire.
    pub fn disarm(&self) {
        self.lock().armed.clear();
    }

    /// How many requests of `moment` have arrived.
    pub fn passes(&self, moment: Moment) -> u64 {
        self.lock().passes.get(&moment).copied().unwrap_or(0)
    }

    /// Called by an emulator when a request of `moment` arrives. `true`:
    /// a tripwire fired, the bot has been killed meanwhile, and the handler
    /// must answer 503 without processing the request.
    pub async fn pass(&self, moment: Moment) -> bool {
        let fires = {
            let mut inner = self.lock();
            let n = inner.passes.entry(moment).or_insert(0);
            *n += 1;
            let n = *n;
            let before = inner.armed.len();
            inner.armed.retain(|(m, at)| !(*m == moment && *at <= n));
            inner.armed.len() != before
        };
        if !fires {
            return false;
        }
        let (release, released) = oneshot::channel();
        if self.fired_tx.send(Fired { moment, release }).is_err() {
            return false;
        }
        let _ = tokio::time::timeout(HOLD_AT_MOST, released).await;
        true
    }

    /// Records an approval-stage `PATCH` by `approver`: `applied` when it
    /// was recorded, `repeated` when that approver had already decided.
    pub fn record_decision(&self, approval: &str, stage: &str, approver: &str, applied: bool) {
        let mut inner = self.lock();
        let tally = inner
            .decisions
            .entry((approval.to_owned(), stage.to_owned(), approver.to_owned()))
            .or_default();
        if applied {
            tally.applied += 1;
        } else {
            tally.repeated += 1;
        }
    }

    /// Every (approval, stage, approver) that `PATCH`ed, with its tally.
    pub fn decisions(&self) -> BTreeMap<(String, String, String), DecisionTally> {
        self.lock().decisions.clone()
    }

    /// Records a Slack approval card posted to `channel`.
    pub fn record_slack_card(&self, channel: &str, request: &str, stage: &str) {
        *self
            .lock()
            .slack_cards
            .entry((channel.to_owned(), request.to_owned(), stage.to_owned()))
            .or_insert(0) += 1;
    }

    /// Slack approval cards posted per (channel, request, stage).
    pub fn slack_cards_posted(&self) -> BTreeMap<(String, String, String), u32> {
        self.lock().slack_cards.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fires_on_the_nth_pass_and_holds_until_released() {
        let hooks = std::sync::Arc::new(ChaosHooks::default());
        let mut fired = hooks.take_fired().unwrap();
        assert!(hooks.take_fired().is_none());
        hooks.arm(Moment::DecisionRelay, 2);
        assert!(!hooks.pass(Moment::DecisionRelay).await);
        assert!(!hooks.pass(Moment::Activation).await);
        let held = tokio::spawn({
            let hooks = hooks.clone();
            async move { hooks.pass(Moment::DecisionRelay).await }
        });
        let f = fired.recv().await.unwrap();
        assert_eq!(f.moment, Moment::DecisionRelay);
        f.release.send(()).unwrap();
        assert!(held.await.unwrap());
        assert!(!hooks.pass(Moment::DecisionRelay).await, "spent");
        assert_eq!(hooks.passes(Moment::DecisionRelay), 3);
    }

    #[test]
    fn tallies_decisions() {
        let hooks = ChaosHooks::default();
        hooks.record_decision("a", "s", "u", true);
        hooks.record_decision("a", "s", "u", false);
        let t = hooks.decisions()[&("a".into(), "s".into(), "u".into())];
        assert_eq!((t.applied, t.repeated), (1, 1));
    }
}
