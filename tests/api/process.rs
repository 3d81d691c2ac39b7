//! The binary itself: `stagegate sandbox` on port 0 prints the chosen
//! addresses, logs JSON with `--log-format json`, and exits 0 on SIGTERM
//! after draining.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn sandbox_process(extra: &[&str]) -> (std::process::Child, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bot.db");
    let child = Command::new(env!("CARGO_BIN_EXE_stagegate"))
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

#[tokio::test]
async fn serve_refuses_an_invalid_config_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("stagegate.toml");
    std::fs::write(&config, "[server]\nbind = \"nonsense\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.bind"), "{stderr}");
}
