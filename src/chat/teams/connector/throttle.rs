//! Client-side pacing so the bot stays under Teams' limits
//! (docs/architecture.md, "Teams rate limits") instead of provoking 429s: per
//! thread 7/1 s, 8/2 s, 60/30 s, 1800/h for sends and creates, and 50 requests
//! per second per app — Teams' exact windows, counted from each request's
//! answer (`chat::pacing` explains why that, and not a margin, is what keeps
//! clear of 429s).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use crate::chat::pacing::{Limit, Limits, Pacer, Slot};

/// One thread's budget: sends, replies, updates, creates.
const THREAD_WINDOWS: Limits = &[
    window(7, 1),
    window(8, 2),
    window(60, 30),
    window(1800, 3600),
];
/// "The global limit per app per tenant is 50 Requests Per Second."
const APP_WINDOWS: Limits = &[window(50, 1)];

const fn window(requests: usize, seconds: u64) -> Limit {
    Limit::Window {
        requests,
        per: Duration::from_secs(seconds),
    }
}
const APP_KEY: &str = "app";
/// Threads whose turn is remembered before idle ones are dropped.
const MAX_THREADS: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct Throttle {
    pacer: Pacer,
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A thread's turn: one request at a time per thread, first come first
/// served, kept through retries, so two updates of one card reach Teams in
/// the order they were made.
#[derive(Debug)]
pub(crate) struct Turn {
    pacer: Pacer,
    budget: String,
    _turn: OwnedMutexGuard<()>,
}

impl Turn {
    /// Waits until one more request on this thread fits every limit; hold
    /// the slot until the request's answer has arrived.
    pub(crate) async fn slot(&mut self) -> Slot {
        self.pacer
            .slot(&[(&self.budget, THREAD_WINDOWS), (APP_KEY, APP_WINDOWS)])
            .await
    }
}

/// Channel threads share their channel's budget.
fn budget_of(thread: &str) -> String {
    let channel = thread
        .split_once(";messageid=")
        .map_or(thread, |(channel, _)| channel);
    format!("thread:{channel}")
}

impl Throttle {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Waits for `thread`'s turn (first come first served).
    pub(crate) async fn turn(&self, thread: &str) -> Turn {
        let budget = budget_of(thread);
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            if turns.len() > MAX_THREADS {
                turns.retain(|_, t| Arc::strong_count(t) > 1);
            }
            Arc::clone(turns.entry(budget.clone()).or_default())
        };
        Turn {
            pacer: self.pacer.clone(),
            budget,
            _turn: turn.lock_owned().await,
        }
    }

    /// Counts a request Teams also billed to `thread` (a conversation
    /// created for a person counts against that conversation, whose id we
    /// learn only from the answer).
    pub(crate) fn also_counted(&self, thread: &str) {
        self.pacer.also_counted(&budget_of(thread));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_thread_waits_for_the_previous_turn_to_end() {
        let throttle = Throttle::new();
        let mut first = throttle.turn("a:1;messageid=1").await;
        let slot = first.slot().await;
        // A reply in the same channel thread shares the channel's turn.
        let second = throttle.turn("a:1;messageid=2");
        tokio::pin!(second);
        tokio::select! {
            biased;
            _ = second.as_mut() => panic!("one request per thread at a time"),
            () = std::future::ready(()) => {}
        }
        // Another thread is not held up.
        let mut other = throttle.turn("a:2").await;
        drop(other.slot().await);
        drop(slot);
        drop(first);
        let _second = second.await;
    }
}
