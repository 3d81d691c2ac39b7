//! The reconciling poller: at start, on demand, and every interval.

use crate::intake_support::{Call, Options, spawn_intake};

fn polls(calls: &[Call]) -> usize {
    calls.iter().filter(|c| **c == Call::ReconcileOpen).count()
}

#[tokio::test]
async fn polls_at_start_and_on_demand() {
    let t = spawn_intake(Options {
        poll_interval_seconds: 3600,
        ..Options::default()
    })
    .await;
    t.sink.wait_until("start-up poll", |c| polls(c) >= 1).await;
    t.intake.poll_now();
    t.sink.wait_until("poll on demand", |c| polls(c) >= 2).await;
    t.intake.poll_now();
    let calls = t
        .sink
        .wait_until("second poll on demand", |c| polls(c) >= 3)
        .await;
    assert!(calls.iter().all(|c| *c == Call::ReconcileOpen), "{calls:?}");
}

#[tokio::test]
async fn polls_every_interval() {
    let t = spawn_intake(Options {
        poll_interval_seconds: 1,
        ..Options::default()
    })
    .await;
    let started = std::time::Instant::now();
    t.sink.wait_until("three polls", |c| polls(c) >= 3).await;
    // Start-up tick, then one per second.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
}
