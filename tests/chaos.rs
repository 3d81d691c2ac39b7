//! Load kit, chaos and storm runs at a small size, asserting the invariants
//! (never timings): the swarm drives every request to delivery on both
//! platforms with no duplicate card, lost decision or double relay.

use stagegate_lab::chaos::ChaosOptions;
use stagegate_lab::launch::{LaunchOptions, Launched};
use stagegate_lab::load::swarm::{Platform, Swarm, SwarmOptions, check};
use stagegate_lab::load::tenant_gen::{TenantSize, tenant_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_delivers_every_request_on_both_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let size = TenantSize::for_requesters(4);
    let mut options = LaunchOptions::ephemeral(dir.path().join("bot.db"));
    options.tenant = Some(tenant_file(size));
    let launched = Launched::start(options).await.unwrap();
    let swarm = Swarm::new(launched.state.clone());
    let mut teams = SwarmOptions::for_tenant(Platform::Teams, size, 0..2);
    let mut slack = SwarmOptions::for_tenant(Platform::Slack, size, 2..4);
    teams.deadline = std::time::Duration::from_secs(120);
    slack.deadline = teams.deadline;
    let (teams, slack) = tokio::join!(swarm.run(&teams), swarm.run(&slack));
    for outcome in [teams, slack] {
        let report = check(&launched.state, &outcome);
        assert!(report.ok(), "{:?}\n{report:#?}", report.failures());
        assert!(report.activated > 0, "{report:#?}");
    }
    launched.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_killed_mid_delivery_relay_and_activation_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = small_run(dir.path(), 10);
    options.kills = 3;
    options.seed = 7;
    let report = stagegate_lab::chaos::run(options).await.unwrap();
    assert!(
        report.ok(),
        "{}\n{report:#?}\nbot log:\n{}",
        report.table(),
        log_tail(dir.path())
    );
    assert_eq!(report.kills, 3, "{report:#?}");
    assert_eq!(
        report.duplicate_cards + report.lost_decisions + report.double_relays,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_storm_then_drain_completes_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = small_run(dir.path(), 12);
    options.kills = 0;
    options.storm = Some(stagegate_lab::chaos::storm::StormOptions {
        duration: std::time::Duration::from_secs(5),
        rate: 0.1,
        graph_timeout_seconds: 2,
        // High, so the few callouts of a 5 s storm surely include both.
        duplicate_rate: 0.6,
        reorder_rate: 0.6,
    });
    let report = stagegate_lab::chaos::run(options).await.unwrap();
    assert!(
        report.ok(),
        "{}\n{report:#?}\nbot log:\n{}",
        report.table(),
        log_tail(dir.path())
    );
    let storm = report.storm.as_ref().unwrap();
    assert!(storm.injected.values().sum::<u64>() > 0, "{report:#?}");
    for kind in ["duplicate", "reorder"] {
        let n: u64 = storm
            .disordered
            .iter()
            .filter(|(k, _)| k.ends_with(kind))
            .map(|(_, n)| n)
            .sum();
        assert!(n > 0, "no {kind} injected: {report:#?}");
    }
    assert_eq!(report.completion_percent, 100.0);
}

/// A small run on both platforms with a short outbox lease and poll, so a
/// crash costs seconds; the bot's files go to `dir`.
fn small_run(dir: &std::path::Path, requests: usize) -> ChaosOptions {
    let mut options = ChaosOptions::new(env!("CARGO_BIN_EXE_stagegate").into());
    options.requests = requests;
    options.approvers = 2;
    options.outbox_lease_seconds = 2;
    options.poll_interval_seconds = 2;
    options.deadline = std::time::Duration::from_secs(240);
    options.dir = Some(dir.to_owned());
    options
}

/// The bot's warnings and errors, for a failed run's message.
fn log_tail(dir: &std::path::Path) -> String {
    let log = std::fs::read_to_string(dir.join("bot.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
