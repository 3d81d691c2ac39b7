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

use crate::chat::pacing::{Limit, Limits, LineFull, Pacer, Slot};

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
/// Requests holding or waiting for one thread's turn, at most: 60 is 30 s
/// of requests at the thread's 60 per 30 s. One more is refused at once
/// ([`LineFull`]): the outbox keeps its job and retries later; a send
/// made for a click (a sign-in prompt) is dropped, and the click's next
/// try sends it again.
pub(crate) const MAX_LINE_PER_THREAD: usize = 60;

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
    pub(crate) async fn slot(&mut self) -> Result<Slot, LineFull> {
        // Thread first, then the app: every caller in the same order.
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

    /// Waits for `thread`'s turn (first come first served: tokio's mutex
    /// wakes its waiters one at a time in order); `Err` at once when
    /// [`MAX_LINE_PER_THREAD`] requests already hold or wait for it.
    pub(crate) async fn turn(&self, thread: &str) -> Result<Turn, LineFull> {
        let budget = budget_of(thread);
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
            if turns.len() > MAX_THREADS {
                turns.retain(|_, t| Arc::strong_count(t) > 1);
            }
            let turn = turns.entry(budget.clone()).or_default();
            // The map holds one reference; each other is a request in line.
            if Arc::strong_count(turn) > MAX_LINE_PER_THREAD {
                return Err(LineFull);
            }
            Arc::clone(turn)
        };
        Ok(Turn {
            pacer: self.pacer.clone(),
            budget,
            _turn: turn.lock_owned().await,
        })
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
        let mut first = throttle.turn("a:1;messageid=1").await.unwrap();
        let slot = first.slot().await.unwrap();
        // A reply in the same channel thread shares the channel's turn.
        let second = throttle.turn("a:1;messageid=2");
        tokio::pin!(second);
        tokio::select! {
            biased;
            _ = second.as_mut() => panic!("one request per thread at a time"),
            () = std::future::ready(()) => {}
        }
        // Another thread is not held up.
        let mut other = throttle.turn("a:2").await.unwrap();
        drop(other.slot().await.unwrap());
        drop(slot);
        drop(first);
        let _second = second.await;
    }

    /// A flood of sends to one conversation: a bounded line, and the rest
    /// refused at once rather than held in memory.
    #[tokio::test]
    async fn a_thread_holds_a_bounded_line_and_refuses_the_rest() {
        let throttle = Arc::new(Throttle::new());
        let first = throttle.turn("a:1").await.unwrap();
        let mut waiting = Vec::new();
        let mut refused = 0;
        for _ in 0..50_000 {
            let t = Arc::clone(&throttle);
            let mut turn = Box::pin(async move { t.turn("a:1").await.map(|_| ()) });
            tokio::select! {
                biased;
                done = turn.as_mut() => {
                    assert_eq!(done, Err(LineFull), "the turn is held: only refusals finish");
                    refused += 1;
                }
                () = std::future::ready(()) => waiting.push(turn),
            }
        }
        assert_eq!(waiting.len(), MAX_LINE_PER_THREAD - 1);
        assert_eq!(refused, 50_000 - (MAX_LINE_PER_THREAD - 1));
        // Another conversation is not affected.
        assert!(throttle.turn("a:2").await.is_ok());
        drop(first);
        for turn in waiting {
            assert_eq!(turn.await, Ok(()));
        }
    }
}
