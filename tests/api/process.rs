//! The production binary itself: what it refuses at start-up.

use std::process::Command;

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
