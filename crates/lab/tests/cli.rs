//! The lab's binary (what `cargo run --release -- …` runs): `sandbox` on
//! port 0 prints the chosen addresses, logs JSON with `--log-format json`
//! and exits 0 on SIGTERM after draining; `sandbox --scenario` lists, runs
//! and fails scenarios as documented.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use stagegate_lab::scenario;

fn sandbox_process(extra: &[&str]) -> (std::process::Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db");
    let child = Command::new(env!("CARGO_BIN_EXE_stagegate-lab"))
        .args(extra)
        .args(["sandbox", "--port", "0", "--sim-port", "0", "--db"])
        .arg(&db)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stagegate starts");
    (child, dir)
}

/// Reads stdout until the bot's address line and returns the address.
fn bot_address(child: &mut std::process::Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.trim_start().strip_prefix("bot") {
            // Keep draining so the process never writes into a closed pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return rest.split_whitespace().next().unwrap().to_owned();
        }
    }
    panic!("no bot address printed");
}

#[tokio::test]
async fn sandbox_on_port_zero_serves_and_exits_cleanly_on_sigterm() {
    let (mut child, _dir) = sandbox_process(&["--log-format", "json"]);
    let address = bot_address(&mut child);
    assert!(
        !address.ends_with(":0"),
        "the chosen port is printed: {address}"
    );
    let ready = reqwest::get(format!("{address}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || {
        let output = child.wait_with_output().unwrap();
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    });
    let (status, stderr) = tokio::time::timeout(Duration::from_secs(20), exit)
        .await
        .expect("exits within the grace period")
        .unwrap();
    assert!(status.success(), "exit status {status:?}; stderr: {stderr}");
    // Every log line is a JSON object.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.iter().any(|l| l.contains("shutdown signal received")),
        "{stderr}"
    );
    for line in lines {
        let parsed: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
    }
}

fn stagegate(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stagegate-lab"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("stagegate runs")
}

#[tokio::test]
async fn the_cli_lists_every_shipped_scenario() {
    let output = tokio::task::spawn_blocking(|| stagegate(&["sandbox", "--scenario", "list"]))
        .await
        .unwrap();
    assert!(output.status.success());
    let listed = String::from_utf8_lossy(&output.stdout);
    for (name, _) in scenario::SHIPPED {
        assert!(
            listed.lines().any(|l| l.starts_with(name)),
            "{name} missing from {listed}"
        );
    }
    assert!(listed.contains("Miriam then Bianca approve"), "{listed}");
}

#[tokio::test]
async fn the_cli_runs_seed_prints_the_transcript_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db").to_str().unwrap().to_owned();
    let output = run_scenario_cli("seed".to_owned(), db).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    for line in [
        "alex types `request global-admin TICKET-123",
        "alex runs `/request global-admin TICKET-123",
        "miriam sees: ",
        "alex signed in (MFA approved)",
        "== seed on Teams: every expectation held",
        "== seed on Slack: every expectation held",
    ] {
        assert!(stdout.contains(line), "{line} missing from {stdout}");
    }
}

#[tokio::test]
async fn the_cli_exits_2_naming_the_failing_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.toml");
    std::fs::write(
        &file,
        r#"
name = "wrong"
description = "Alex was shown a sign-in link, so this fails at once"
platforms = ["slack"]

[[steps]]
do = "link"
who = "alex"

[[steps]]
expect = "does_not_see"
who = "alex"
contains = ["Sign in"]
"#,
    )
    .unwrap();
    let (file, db) = (
        file.to_str().unwrap().to_owned(),
        dir.path().join("bot.db").to_str().unwrap().to_owned(),
    );
    let output = run_scenario_cli(file, db).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("step 2 on Slack failed"), "{stderr}");
    assert!(
        stderr.contains("no message showing [\"Sign in\"]"),
        "{stderr}"
    );
}

/// `stagegate sandbox --scenario <scenario>` on free ports with its database
/// at `db`, off the async runtime.
async fn run_scenario_cli(scenario: String, db: String) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        stagegate(&[
            "sandbox",
            "--scenario",
            &scenario,
            "--port",
            "0",
            "--sim-port",
            "0",
            "--db",
            &db,
        ])
    })
    .await
    .unwrap()
}

/// `healthcheck` (the container image's health check, where there is no
/// shell or curl): 0 when `/readyz` says ready, 1 — what runtimes read as
/// "unhealthy" — when the bot answers anything else or does not answer.
#[tokio::test]
async fn healthcheck_exits_0_when_ready_and_1_when_not() {
    let (mut child, _dir) = sandbox_process(&[]);
    let address = bot_address(&mut child);
    let healthcheck = |url: String| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_stagegate-lab"))
                .args(["healthcheck", "--url", &url])
                .output()
                .unwrap()
        })
    };

    let ready = healthcheck(format!("{address}/readyz")).await.unwrap();
    assert_eq!(ready.status.code(), Some(0), "{ready:?}");
    assert!(String::from_utf8_lossy(&ready.stdout).contains("ready (200 OK)"));

    let wrong = healthcheck(format!("{address}/no-such-route"))
        .await
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not ready (404 Not Found)"));

    child.kill().unwrap();
    child.wait().unwrap();
    let gone = healthcheck(format!("{address}/readyz")).await.unwrap();
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("no answer from"),
        "{gone:?}"
    );
}

/// `backup` copies the database of a running bot into a new file that is a
/// whole stagegate database (it backs up again, carrying the same
/// migration), and never overwrites a file.
#[tokio::test]
async fn backup_copies_a_running_bots_database_and_never_overwrites() {
    let (mut child, dir) = sandbox_process(&[]);
    let _address = bot_address(&mut child);
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../sandbox/stagegate.sandbox.toml"
    );
    let backup = |database: std::path::PathBuf, to: std::path::PathBuf| {
        let config = config.to_owned();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_stagegate-lab"))
                .args(["backup", "--config", &config, "--to"])
                .arg(&to)
                .env("STAGEGATE_DATABASE__PATH", &database)
                .output()
                .unwrap()
        })
    };
    let live = dir.path().join("bot.db");
    let copy = dir.path().join("copy.db");

    let first = backup(live.clone(), copy.clone()).await.unwrap();
    assert!(first.status.success(), "{first:?}");
    let said = String::from_utf8_lossy(&first.stdout).into_owned();
    let migration = said
        .split("migration ")
        .nth(1)
        .and_then(|m| m.trim().strip_suffix(')'))
        .unwrap_or_else(|| panic!("no migration in {said}"))
        .to_owned();
    assert!(migration.parse::<i64>().unwrap() > 0, "{said}");

    let again = backup(copy.clone(), dir.path().join("copy-of-copy.db"))
        .await
        .unwrap();
    assert!(again.status.success(), "the copy is a database: {again:?}");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(&format!("migration {migration})")),
        "{again:?}"
    );

    let over = backup(live, copy).await.unwrap();
    assert!(!over.status.success());
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("already exists"),
        "{over:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
