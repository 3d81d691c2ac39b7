//! Every shipped scenario (`scenarios/*.toml`) end to end, each on a fresh
//! sandbox per platform, through the same runner as
//! `stagegate sandbox --scenario`; a failing one shows its transcript.

use std::time::Duration;

use stagegate_lab::scenario::{self, Loaded, STEP_TIMEOUT, ScenarioError, Setup, fresh_db_beside};

async fn run(loaded: &Loaded, timeout: Duration) -> (Result<(), ScenarioError>, String) {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup {
        bot_port: 0,
        sim_port: 0,
        db_for: fresh_db_beside,
        db: dir.path().join("bot.db"),
        tenant: None,
        timeout,
    };
    let mut out: Vec<u8> = Vec::new();
    let result = scenario::run(loaded, &setup, &mut out).await;
    (result, String::from_utf8_lossy(&out).into_owned())
}

/// Runs the shipped scenario `name`; returns its transcript.
pub async fn shipped(name: &str) -> String {
    let loaded = scenario::load(name).expect("a shipped scenario");
    let (result, transcript) = run(&loaded, STEP_TIMEOUT).await;
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
async fn first_time_approver() {
    let transcript = shipped("first-time-approver").await;
    for platform in ["Teams", "Slack"] {
        let held = format!("== first-time-approver on {platform}: every expectation held");
        assert!(transcript.contains(&held), "{transcript}");
    }
}

#[tokio::test]
async fn unapproved_member() {
    shipped("unapproved-member").await;
}

/// A scenario whose expectation is wrong fails at that step, saying what
/// was expected and what the persona saw; the steps before it ran.
#[tokio::test]
async fn a_wrong_expectation_fails_naming_the_step() {
    let scenario = scenario::parse(
        r#"
name = "wrong"
description = "Miriam's card cannot show a stage 9"
platforms = ["teams"]

[[steps]]
do = "link"
who = "alex"

[[steps]]
do = "type"
who = "alex"
text = "request global-admin TICKET-123 rotate the break-glass certificate"

[[steps]]
expect = "sees"
who = "miriam"
contains = ["TICKET-123", "stage 9 of 9"]

[[steps]]
do = "approve"
who = "miriam"
justification = "never reached"
"#,
    )
    .unwrap();
    let loaded = Loaded {
        scenario,
        tenant: None,
    };
    let (result, transcript) = run(&loaded, Duration::from_secs(2)).await;
    let Err(ScenarioError::Failed { failure, .. }) = result else {
        panic!("the scenario passed: {transcript}");
    };
    assert_eq!(failure.step, 3, "{failure}");
    assert!(failure.expected.contains("stage 9 of 9"), "{failure}");
    assert!(
        failure.seen.contains("TICKET-123"),
        "what Miriam saw: {failure}"
    );
    assert!(
        transcript.contains("FAILED: step 3 on Teams failed"),
        "{transcript}"
    );
    assert!(
        !transcript.contains("step  4  "),
        "stopped at the failure: {transcript}"
    );
}

#[tokio::test]
async fn an_unknown_key_in_a_scenario_file_is_named_with_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    std::fs::write(
        &file,
        "name = \"t\"\ndescription = \"d\"\nplatforms = [\"teams\"]\n\n[[steps]]\ndo = \"advance_clock\"\nby = \"PT1M\"\nwho = \"alex\"\n",
    )
    .unwrap();
    let error = scenario::load(file.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(error.contains("step 1") && error.contains("who"), "{error}");
}

/// A scenario file names its tenant file relative to itself; `load` reads it.
#[test]
fn a_scenario_file_brings_its_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tenants")).unwrap();
    let tenant =
        include_str!("../../crates/sandbox/src/tenant.toml").replace("Alex Wilber", "Alex Own");
    std::fs::write(dir.path().join("tenants/mine.toml"), &tenant).unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        "name = \"mine\"\ndescription = \"d\"\nplatforms = [\"slack\"]\ntenant = \"tenants/mine.toml\"\n\n[[steps]]\ndo = \"advance_clock\"\nby = \"PT1M\"\n",
    )
    .unwrap();
    let loaded = scenario::load(file.to_str().unwrap()).unwrap();
    assert_eq!(loaded.tenant.as_deref(), Some(tenant.as_str()));

    std::fs::remove_file(dir.path().join("tenants/mine.toml")).unwrap();
    let error = scenario::load(file.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(error.contains("tenants/mine.toml"), "{error}");
}

/// A scenario runs against the tenant file it names (here Johanna renamed).
#[tokio::test]
async fn a_scenario_runs_against_its_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = include_str!("../../crates/sandbox/src/tenant.toml")
        .replace("Johanna Lorenz", "Johanna Mine");
    std::fs::write(dir.path().join("tenant.toml"), tenant).unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(
        &file,
        r#"
name = "mine"
description = "the flagged alert names the tenant file's persona"
platforms = ["slack"]
tenant = "tenant.toml"

[[steps]]
do = "add_member"
who = "johanna"
group = "grp-elig-globaladmin"

[[steps]]
expect = "security"
contains = ["not made through stagegate", "Johanna Mine"]
"#,
    )
    .unwrap();
    let loaded = scenario::load(file.to_str().unwrap()).unwrap();
    let (result, transcript) = run(&loaded, STEP_TIMEOUT).await;
    assert!(result.is_ok(), "{transcript}\n{result:?}");
}
