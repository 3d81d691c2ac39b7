//! The recording fake engine.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use stagegate::engine::intake::{Cause, IntakeSink};
use stagegate_domain::ids::{ObjectId, RequestId};
use tokio::sync::watch;

/// What the fake engine was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Reconcile(RequestId, Cause),
    Membership {
        group: ObjectId,
        member: ObjectId,
        added: bool,
    },
    ReconcileOpen,
}

/// Records every call; tests await the calls they expect.
pub struct RecordingSink {
    calls: Mutex<Vec<Call>>,
    version: watch::Sender<usize>,
}

impl RecordingSink {
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            calls: Mutex::new(Vec::new()),
            version: watch::channel(0).0,
        })
    }

    fn record(&self, call: Call) {
        self.calls.lock().unwrap().push(call);
        self.version.send_modify(|v| *v += 1);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) until `done` holds for the calls so far.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let mut rx = self.version.subscribe();
        let wait = async {
            loop {
                let calls = self.calls();
                if done(&calls) {
                    return calls;
                }
                rx.changed().await.unwrap();
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), wait).await {
            Ok(calls) => calls,
            Err(_) => panic!("{what}: not reached in 10 s; calls: {:?}", self.calls()),
        }
    }

    /// Waits until at least `n` membership changes are recorded.
    pub async fn wait_memberships(&self, n: usize) -> Vec<Call> {
        let count = |c: &[Call]| {
            c.iter()
                .filter(|c| matches!(c, Call::Membership { .. }))
                .count()
        };
        self.wait_until(&format!("{n} membership changes"), |c| count(c) >= n)
            .await
    }

    pub fn memberships(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| matches!(c, Call::Membership { .. }))
            .collect()
    }
}

#[async_trait]
impl IntakeSink for RecordingSink {
    async fn reconcile(&self, request: RequestId, cause: Cause) {
        self.record(Call::Reconcile(request, cause));
    }

    async fn membership_changed(&self, group: ObjectId, member: ObjectId, added: bool) {
        self.record(Call::Membership {
            group,
            member,
            added,
        });
    }

    async fn reconcile_open(&self) {
        self.record(Call::ReconcileOpen);
    }
}
