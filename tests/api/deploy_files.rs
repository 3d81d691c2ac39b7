//! The deployment files under `deploy/` agree with the bot: the Kubernetes
//! overlay's `stagegate.toml`, with the environment its Deployment sets and
//! the Secret's files it names, is a config the bot loads.

use std::path::{Path, PathBuf};

use stagegate::config::Settings;

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path)
}

/// The `STAGEGATE_*` variables a manifest sets, as `- name:` / `value:` pairs.
fn manifest_env(path: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy(path)).unwrap();
    let mut pairs = Vec::new();
    let mut name: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("- name: STAGEGATE_") {
            name = Some(format!("STAGEGATE_{n}"));
        } else if let (Some(value), Some(n)) = (line.strip_prefix("value: "), name.take()) {
            pairs.push((n, value.to_owned()));
        }
    }
    pairs
}

/// What an operator puts in the stagegate-secrets Secret, one file per key.
fn secret_value(key: &str) -> &'static str {
    match key {
        // 32 bytes, base64: what `openssl rand -base64 32` prints.
        "vault-key-k1" => "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        _ => "a-client-secret-from-the-app-registration",
    }
}

#[test]
fn the_kubernetes_sqlite_overlay_config_loads_with_its_deployment_env_and_secret_files() {
    let secrets = tempfile::tempdir().unwrap();
    let mut env = manifest_env("kubernetes/base/deployment.yaml");
    env.extend(manifest_env(
        "kubernetes/overlays/sqlite/deployment-sqlite.yaml",
    ));
    let mut files = 0;
    for (name, value) in &mut env {
        if let Some(key) = value.strip_prefix("/run/secrets/stagegate/") {
            assert!(name.ends_with("_FILE"), "{name} names a secret file");
            let file = secrets.path().join(key);
            std::fs::write(&file, secret_value(key)).unwrap();
            *value = file.to_str().unwrap().to_owned();
            files += 1;
        }
    }
    assert_eq!(
        files, 3,
        "Entra client secret, vault key, Teams app password: {env:?}"
    );

    let settings = Settings::load_from(
        Some(&deploy("kubernetes/overlays/sqlite/stagegate.toml")),
        env,
    )
    .unwrap_or_else(|e| panic!("the overlay's config does not load: {e}"));
    assert_eq!(settings.server.bind.to_string(), "0.0.0.0:3978");
    assert_eq!(settings.database.path, Path::new("/data/stagegate.db"));
    assert!(settings.teams.is_some(), "the overlay configures Teams");
}
