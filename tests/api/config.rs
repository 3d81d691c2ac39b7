use std::io::Write;

use secrecy::ExposeSecret;
use stagegate::config::Settings;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const REQUIRED: &[(&str, &str)] = &[
    ("STAGEGATE_ENTRA__TENANT_ID", "t"),
    ("STAGEGATE_ENTRA__CLIENT_ID", "c"),
    ("STAGEGATE_ENTRA__CLIENT_SECRET", "s3cret"),
    (
        "STAGEGATE_IDENTITY__VAULT_KEYS__K1",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ),
    ("STAGEGATE_IDENTITY__VAULT_PRIMARY_KEY", "k1"),
];

#[test]
fn defaults_then_file_then_env() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        file,
        "[server]\nshutdown_grace_seconds = 3\n[graph]\ntimeout_seconds = 7"
    )
    .unwrap();
    let mut vars = env(REQUIRED);
    vars.push(("STAGEGATE_GRAPH__TIMEOUT_SECONDS".into(), "9".into()));
    let settings = Settings::load_from(Some(file.path()), vars).unwrap();
    assert_eq!(settings.server.shutdown_grace_seconds, 3);
    assert_eq!(settings.graph.timeout_seconds, 9);
    assert_eq!(settings.server.bind.port(), 3978);
    assert_eq!(settings.graph.base_url, "https://graph.microsoft.com/v1.0");
}

#[test]
fn secrets_come_from_files_and_never_print() {
    let mut secret = tempfile::NamedTempFile::new().unwrap();
    writeln!(secret, "from-a-file").unwrap();
    let mut vars = env(REQUIRED);
    vars.retain(|(k, _)| k != "STAGEGATE_ENTRA__CLIENT_SECRET");
    vars.push((
        "STAGEGATE_ENTRA__CLIENT_SECRET_FILE".into(),
        secret.path().to_str().unwrap().into(),
    ));
    let settings = Settings::load_from(None, vars).unwrap();
    assert_eq!(settings.entra.client_secret.expose_secret(), "from-a-file");
    assert!(!format!("{settings:?}").contains("from-a-file"));
}

#[test]
fn missing_key_is_named_with_its_env_variable() {
    let err = Settings::load_from(None, env(&REQUIRED[..2]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("entra.client_secret"), "{err}");
    assert!(err.contains("STAGEGATE_ENTRA__CLIENT_SECRET"), "{err}");
}

#[test]
fn unknown_keys_are_rejected() {
    let mut vars = env(REQUIRED);
    vars.push(("STAGEGATE_GRAPH__TIMEOUT_SECOND".into(), "9".into()));
    let err = Settings::load_from(None, vars).unwrap_err().to_string();
    assert!(err.contains("graph.timeout_second"), "{err}");

    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "[sever]\nbind = \"127.0.0.1:1\"").unwrap();
    let err = Settings::load_from(Some(file.path()), env(REQUIRED))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sever"), "{err}");
}

#[test]
fn malformed_value_says_what_is_expected() {
    let mut vars = env(REQUIRED);
    vars.push(("STAGEGATE_SERVER__BIND".into(), "not-an-address".into()));
    let err = Settings::load_from(None, vars).unwrap_err().to_string();
    assert!(err.contains("server.bind"), "{err}");
}

#[test]
fn example_config_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stagegate.example.toml");
    Settings::load_from(Some(&path), Vec::new()).expect("example config loads");
}

fn engine_from(toml: &str) -> Result<stagegate::config::EngineSettings, String> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "{toml}").unwrap();
    Settings::load_from(Some(file.path()), env(REQUIRED))
        .map(|s| s.engine)
        .map_err(|e| e.to_string())
}

#[test]
fn security_channels_take_a_list_on_both_platforms() {
    let engine = engine_from(
        r#"[engine]
security_channels = [
  { platform = "teams", channel = "19:abc@thread.tacv2" },
  { platform = "slack", channel = "C0123456789" },
]"#,
    )
    .unwrap();
    let all = engine.all_security_channels();
    assert_eq!(all.len(), 2);
    assert_eq!(
        (all[0].platform.as_str(), all[0].channel.as_str()),
        ("teams", "19:abc@thread.tacv2")
    );
    assert_eq!(
        (all[1].platform.as_str(), all[1].channel.as_str()),
        ("slack", "C0123456789")
    );
}

#[test]
fn the_single_security_channel_table_is_still_accepted() {
    let engine =
        engine_from("[engine.security_channel]\nplatform = \"slack\"\nchannel = \"C0123456789\"")
            .unwrap();
    let all = engine.all_security_channels();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].channel, "C0123456789");

    // Both forms: the single one first, each channel once.
    let engine = engine_from(
        r#"[engine]
security_channel = { platform = "slack", channel = "C1" }
security_channels = [{ platform = "slack", channel = "C1" }, { platform = "teams", channel = "19:t" }]"#,
    )
    .unwrap();
    let ids: Vec<String> = engine
        .all_security_channels()
        .into_iter()
        .map(|c| c.channel)
        .collect();
    assert_eq!(ids, ["C1", "19:t"]);
}

#[test]
fn a_security_channel_with_an_unknown_key_is_named() {
    let err = engine_from(
        r#"[engine]
security_channels = [{ platform = "slack", chanel = "C1" }]"#,
    )
    .unwrap_err();
    assert!(err.contains("chanel"), "{err}");
}

/// The untouched example config is refused, with every problem named at
/// once: the all-zero ids, no chat platform, no package, the placeholders.
#[tokio::test]
async fn serving_the_untouched_example_config_is_refused_with_every_problem() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stagegate.example.toml");
    let mut settings = Settings::load_from(Some(&path), Vec::new()).unwrap();
    let db = tempfile::tempdir().unwrap();
    settings.database.path = db.path().join("stagegate.db");
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    let error = stagegate::app::Application::build(settings)
        .await
        .err()
        .expect("refused")
        .to_string();
    for expected in [
        "refusing to start: this config cannot work yet",
        "entra.tenant_id is the example's all-zero id",
        "entra.client_id is the example's all-zero id",
        "no chat platform: add a [teams] or a [slack] section",
        "no access package in [[engine.packages]]",
        "entra.client_secret (a placeholder of stagegate.example.toml)",
    ] {
        assert!(error.contains(expected), "missing `{expected}` in: {error}");
    }
    assert_eq!(error.matches("refusing to start").count(), 1, "{error}");
}
