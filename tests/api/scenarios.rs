//! Every shipped scenario (`scenarios/*.toml`) end to end, each on a fresh
//! sandbox per platform, through the same runner as
//! `stagegate sandbox --scenario`; a failing one shows its transcript.

use stagegate::scenario::{self, Loaded, ScenarioError, Setup, fresh_db_beside};

async fn run(loaded: &Loaded) -> (Result<(), ScenarioError>, String) {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        bot_port: 0,
        sim_port: 0,
        db_for: fresh_db_beside,
        db: dir.path().join("bot.db"),
        tenant: None,
    };
    let mut out: Vec<u8> = Vec::new();
    let result = scenario::run(loaded, &setup, &mut out).await;
    (result, String::from_utf8_lossy(&out).into_owned())
}

/// Runs the shipped scenario `name`; returns its transcript.
pub async fn shipped(name: &str) -> String {
    let loaded = scenario::load(name).expect("a shipped scenario");
    let (result, transcript) = run(&loaded).await;
    if let Err(e) = result {
        panic!("{transcript}\n\n{e}");
    }
    transcript
}

#[tokio::test]
async fn seed() {
    let transcript = shipped("seed").await;
    assert!(transcript.contains("== seed on Teams: every expectation held"));
    assert!(transcript.contains("== seed on Slack: every expectation held"));
}

#[tokio::test]
async fn deny() {
    shipped("deny").await;
}

#[tokio::test]
async fn timeout() {
    shipped("timeout").await;
}

#[tokio::test]
async fn fallback() {
    shipped("fallback").await;
}

#[tokio::test]
async fn three_stage() {
    shipped("three-stage").await;
}

#[tokio::test]
async fn out_of_band() {
    shipped("out-of-band").await;
}

#[tokio::test]
async fn unapproved_member() {
    shipped("unapproved-member").await;
}
