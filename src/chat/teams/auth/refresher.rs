//! The one task that fetches the Bot Framework keys: at start, then every
//! `interval` ("refresh … at least once every 24 hours"; docs/architecture.md,
//! "Teams authentication"), at once when a request asks (no key set yet, or an
//! unknown `kid`), and after a failure with exponential backoff, during which
//! requests are answered from the last good set without waiting (see
//! [`super::keys`]).

use std::sync::Arc;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::task::JoinHandle;

use super::keys::{FetchError, KeySet};

/// The running refresher; dropping it stops the task (the app drops it at
/// shutdown, a test when it ends), and requests that need a fetch are then
/// refused at once.
#[must_use = "the refresher stops when this is dropped"]
pub struct KeyRefresher {
    task: JoinHandle<()>,
}

impl Drop for KeyRefresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for KeyRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRefresher(..)")
    }
}

/// Marks the refresher stopped however its task ends (abort included), so
/// waiting requests wake up instead of timing out.
struct Running(Arc<KeySet>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.state.send_modify(|state| {
            state.running = false;
            state.in_flight = false;
        });
    }
}

impl KeySet {
    /// Starts the background refresh (once per key set). Must be called
    /// inside a Tokio runtime.
    pub fn start_refresh(self: &Arc<Self>) -> KeyRefresher {
        self.state.send_modify(|state| state.running = true);
        let running = Running(Arc::clone(self));
        KeyRefresher {
            task: tokio::spawn(async move { running.0.refresh_forever().await }),
        }
    }

    async fn refresh_forever(&self) {
        let mut requests = self.state.subscribe();
        let mut backoff = None;
        loop {
            let delay = if self.refresh_once().await {
                backoff = None;
                self.rules.interval
            } else {
                backoff
                    .get_or_insert_with(|| {
                        ExponentialBuilder::default()
                            .with_min_delay(self.rules.retry_min)
                            .with_max_delay(self.rules.retry_max)
                            .with_jitter()
                            .without_max_times()
                            .build()
                    })
                    .next()
                    .unwrap_or(self.rules.retry_max)
            };
            // While backing off, requests do not ask (they are answered
            // from the last good set), so only the timer ends the wait.
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = requests.wait_for(|state| state.wanted) => {}
            }
        }
    }

    /// One fetch; whether it succeeded.
    async fn refresh_once(&self) -> bool {
        self.state.send_modify(|state| {
            state.in_flight = true;
            state.wanted = false;
        });
        let timeout = self.rules.fetch_timeout;
        let outcome = tokio::time::timeout(timeout, self.source.fetch())
            .await
            .unwrap_or(Err(FetchError::TimedOut(timeout)));
        let ok = outcome.is_ok();
        self.state.send_modify(|state| {
            state.in_flight = false;
            state.completed += 1;
            match outcome {
                Ok(keys) => {
                    if state.failure.take().is_some() {
                        tracing::info!("the Bot Framework signing keys are refreshed again");
                    }
                    state.keys = Some(Arc::new(keys));
                }
                Err(error) => {
                    tracing::warn!(
                        %error,
                        cached = state.keys.is_some(),
                        "cannot refresh the Bot Framework signing keys; serving the last good set and retrying"
                    );
                    state.failure = Some(error);
                }
            }
        });
        ok
    }
}
