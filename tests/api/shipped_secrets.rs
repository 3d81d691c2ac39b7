//! No shipped secret in production: every secret stagegate publishes (the
//! sandbox's config and tenant, the example config's placeholders, test
//! values) is recognised by fingerprint, whatever the text looks like, and
//! refused unless the bot listens on loopback and every Microsoft and Slack
//! endpoint is on loopback.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use stagegate::app::Application;
use stagegate::config::Settings;
use stagegate::config::shipped_secrets::{Origin, shipped_origin, shipped_secrets};
use stagegate_lab::wiring::BotWiring;
use stagegate_sandbox::SimState;
use stagegate_sandbox::tenant::{SEED_TENANT, TenantFile};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped_file() -> PathBuf {
    root().join("sandbox/stagegate.sandbox.toml")
}

/// The shipped sandbox config, its database in `dir` (never the working
/// directory), listening on a free loopback port.
fn shipped(dir: &Path) -> Settings {
    let mut settings =
        Settings::load_from(Some(&shipped_file()), Vec::new()).expect("the shipped file loads");
    settings.database.path = dir.join("bot.db");
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    settings.server.public_base_url = "http://127.0.0.1:0".into();
    settings
}

/// Every secret key of the shipped sandbox config.
const SECRET_KEYS: [&str; 7] = [
    "entra.client_secret",
    "identity.vault_keys.sandbox",
    "teams.app_password",
    "slack.signing_secret",
    "slack.bot_token",
    "intake.client_state",
    "intake.callout_secret",
];

fn random_text() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// Replaces every secret but `keep` with a fresh random one.
fn fresh_secrets_except(settings: &mut Settings, keep: &str) {
    let fresh = |key: &str, value: &mut SecretString, make: fn() -> String| {
        if key != keep {
            *value = SecretString::from(make());
        }
    };
    fresh(
        "entra.client_secret",
        &mut settings.entra.client_secret,
        random_text,
    );
    for (id, key) in settings.identity.vault_keys.iter_mut() {
        fresh(&format!("identity.vault_keys.{id}"), key, || {
            STANDARD.encode(rand::random::<[u8; 32]>())
        });
    }
    let teams = settings.teams.as_mut().unwrap();
    fresh("teams.app_password", &mut teams.app_password, random_text);
    let slack = settings.slack.as_mut().unwrap();
    fresh("slack.signing_secret", &mut slack.signing_secret, || {
        hex::encode(rand::random::<[u8; 16]>())
    });
    fresh("slack.bot_token", &mut slack.bot_token, || {
        format!("xoxb-1-2-{}", hex::encode(rand::random::<[u8; 12]>()))
    });
    let intake = &mut settings.intake;
    fresh(
        "intake.client_state",
        intake.client_state.as_mut().unwrap(),
        random_text,
    );
    fresh(
        "intake.callout_secret",
        intake.callout_secret.as_mut().unwrap(),
        random_text,
    );
}

/// Each Microsoft and Slack endpoint key, and the real service's URL.
const REAL_ENDPOINTS: [(&str, &str); 5] = [
    ("entra.login_base_url", "https://login.microsoftonline.com"),
    ("graph.base_url", "https://graph.microsoft.com/v1.0"),
    (
        "teams.service_url",
        "https://smba.trafficmanager.net/teams/",
    ),
    (
        "teams.openid_metadata_url",
        "https://login.botframework.com/v1/.well-known/openidconfiguration",
    ),
    ("slack.api_base_url", "https://slack.com/api"),
];

fn set_endpoint(settings: &mut Settings, key: &str, url: &str) {
    let url = url.to_owned();
    match key {
        "entra.login_base_url" => settings.entra.login_base_url = url,
        "graph.base_url" => settings.graph.base_url = url,
        "teams.service_url" => settings.teams.as_mut().unwrap().service_url = url,
        "teams.openid_metadata_url" => settings.teams.as_mut().unwrap().openid_metadata_url = url,
        "slack.api_base_url" => settings.slack.as_mut().unwrap().api_base_url = url,
        other => panic!("unknown endpoint {other}"),
    }
}

fn real_endpoints(settings: &mut Settings) {
    for (key, url) in REAL_ENDPOINTS {
        set_endpoint(settings, key, url);
    }
}

/// The values of every secret in `settings`, and what the vault keys decode
/// to, none of which an error may show.
fn secret_values(settings: &Settings) -> Vec<String> {
    let mut out = vec![settings.entra.client_secret.expose_secret().to_owned()];
    for key in settings.identity.vault_keys.values() {
        out.push(key.expose_secret().to_owned());
        if let Ok(bytes) = STANDARD.decode(key.expose_secret()) {
            out.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let teams = settings.teams.as_ref().unwrap();
    let slack = settings.slack.as_ref().unwrap();
    out.push(teams.app_password.expose_secret().to_owned());
    out.push(slack.signing_secret.expose_secret().to_owned());
    out.push(slack.bot_token.expose_secret().to_owned());
    for s in [
        &settings.intake.client_state,
        &settings.intake.callout_secret,
    ]
    .into_iter()
    .flatten()
    {
        out.push(s.expose_secret().to_owned());
    }
    out
}

fn refusal(settings: &Settings) -> Option<String> {
    settings
        .refuse_sandbox_secrets_off_loopback()
        .err()
        .map(|e| e.to_string())
}

/// The finding: the sandbox's vault key passed as a production key (the
/// marker was looked for in its base64 text). Each sandbox secret, alone
/// among fresh ones, is refused with real endpoints, by its key.
#[test]
fn each_sandbox_secret_alone_is_refused_with_real_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    for keep in SECRET_KEYS {
        let mut settings = shipped(dir.path());
        let values = secret_values(&settings);
        fresh_secrets_except(&mut settings, keep);
        real_endpoints(&mut settings);
        let refused = refusal(&settings).unwrap_or_else(|| panic!("{keep} was accepted"));
        assert!(refused.contains(keep), "{refused}");
        assert!(refused.contains("not on loopback"), "{refused}");
        assert!(refused.contains("graph.base_url"), "{refused}");
        for value in &values {
            assert!(
                !refused.contains(value.as_str()),
                "a secret value in: {refused}"
            );
        }
    }
}

/// Every endpoint counts, one at a time; the message names it and says
/// how to replace each secret.
#[test]
fn the_sandbox_config_with_any_real_endpoint_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (endpoint, url) in REAL_ENDPOINTS {
        let mut settings = shipped(dir.path());
        set_endpoint(&mut settings, endpoint, url);
        let refused = refusal(&settings).unwrap_or_else(|| panic!("{endpoint} was accepted"));
        assert!(
            refused.contains(&format!("{endpoint} (")) && refused.contains("not on loopback"),
            "{refused}"
        );
        for key in SECRET_KEYS {
            assert!(refused.contains(key), "{key} not named: {refused}");
        }
        assert!(
            refused.contains("openssl rand -base64 32")
                && refused.contains("STAGEGATE_IDENTITY__VAULT_KEYS__SANDBOX_FILE"),
            "{refused}"
        );
    }
}

/// `serve` with the sandbox config listening on every interface.
#[tokio::test]
async fn the_sandbox_config_bound_on_every_interface_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = shipped(dir.path());
    settings.server.bind = "0.0.0.0:0".parse().unwrap();
    let error = Application::build(settings)
        .await
        .err()
        .expect("the sandbox's secrets on 0.0.0.0 are refused")
        .to_string();
    assert!(
        error.contains("not on loopback: server.bind (0.0.0.0:0)"),
        "{error}"
    );
    assert!(error.contains("identity.vault_keys.sandbox"), "{error}");
}

/// Fresh secrets are production's business: real endpoints, any bind.
#[tokio::test]
async fn fresh_secrets_with_real_endpoints_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = shipped(dir.path());
    fresh_secrets_except(&mut settings, "");
    real_endpoints(&mut settings);
    assert_eq!(shipped_secrets(&settings), []);
    let mut everywhere = settings.clone();
    everywhere.server.bind = "0.0.0.0:3978".parse().unwrap();
    assert_eq!(refusal(&everywhere), None);
    Application::build(settings)
        .await
        .expect("fresh secrets with real endpoints start");
}

/// The sandbox as shipped (all on loopback) still starts.
#[tokio::test]
async fn the_shipped_sandbox_config_still_starts() {
    let dir = tempfile::tempdir().unwrap();
    let settings = shipped(dir.path());
    assert_eq!(refusal(&settings), None);
    Application::build(settings)
        .await
        .expect("the shipped sandbox config starts on loopback");
}

/// The constants match the real secrets: the shipped file's, the in-process
/// sandbox's (built from it, and from the seeded tenant alone), every
/// encoding of its vault key; and fresh sandbox secrets are not matched.
#[test]
fn the_fingerprints_match_the_sandboxs_real_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = shipped(dir.path());
    let recognised = |settings: &Settings| -> Vec<(String, Origin)> {
        shipped_secrets(settings)
            .into_iter()
            .map(|s| (s.key, s.origin))
            .collect()
    };
    let every_one = SECRET_KEYS.map(|k| (k.to_owned(), Origin::Sandbox));
    let mut found = recognised(&file);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = every_one.to_vec();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found, expected, "by fingerprint, not just the marker");

    let world = || {
        TenantFile::parse(SEED_TENANT)
            .unwrap()
            .into_world(chrono::Utc::now())
            .unwrap()
    };
    let secrets = stagegate_lab::wiring::fixed_secrets(&file).unwrap();
    let state = SimState::with_secrets("http://127.0.0.1:3979".into(), world(), Some(secrets));
    let mut sandbox = state.bot_settings("127.0.0.1:0".parse().unwrap(), dir.path().join("a.db"));
    // The in-process sandbox makes a fresh vault key per database.
    assert_eq!(
        shipped_origin(sandbox.identity.vault_keys["sandbox"].expose_secret()),
        None
    );
    sandbox.identity.vault_keys = file.identity.vault_keys.clone();
    let mut found = recognised(&sandbox);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found, expected);

    // The seeded tenant's app secret; every other sandbox secret is fresh.
    let fresh = SimState::new("http://127.0.0.1:3979".into(), world())
        .bot_settings("127.0.0.1:0".parse().unwrap(), dir.path().join("b.db"));
    assert_eq!(
        recognised(&fresh),
        [
            ("entra.client_secret".to_owned(), Origin::Sandbox),
            ("teams.app_password".to_owned(), Origin::Sandbox)
        ]
    );

    let key = STANDARD
        .decode(file.identity.vault_keys["sandbox"].expose_secret())
        .unwrap();
    assert_eq!(
        shipped_origin(&URL_SAFE_NO_PAD.encode(&key)),
        Some(Origin::Sandbox)
    );
}

/// Every secret written in a file the repository ships is recognised:
/// the sandbox's config and tenants, the example config (its commented
/// placeholders too), the scenarios, Slack's signing test vector and the
/// tests' all-zero vault key.
#[test]
fn every_secret_the_repository_ships_is_recognised() {
    let line = regex::Regex::new(
        r#"(?m)^\s*#?\s*(client_secret|app_password|signing_secret|bot_token|client_state|callout_secret|vault_keys)\s*=\s*(.*)$"#,
    )
    .unwrap();
    let quoted = regex::Regex::new(r#""([^"]+)""#).unwrap();
    let mut files: Vec<PathBuf> = [
        "sandbox/stagegate.sandbox.toml",
        "stagegate.example.toml",
        "crates/sandbox/src/tenant.toml",
        "crates/lab/src/load/tenant_gen.rs",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    for dir in ["scenarios", "sandbox"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    let mut checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        for found in line.captures_iter(&text) {
            for value in quoted.captures_iter(&found[2]) {
                checked += 1;
                assert!(
                    shipped_origin(&value[1]).is_some(),
                    "{} of {} is not recognised",
                    &found[1],
                    path.display()
                );
            }
        }
    }
    assert!(
        checked >= 14,
        "only {checked} secrets found: is the scan blind?"
    );

    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("tests/fixtures/slack/signing_vector_slash_command.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        shipped_origin(vector["signing_secret"].as_str().unwrap()),
        Some(Origin::TestValue)
    );
    assert_eq!(
        shipped_origin("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        Some(Origin::TestValue)
    );
    // The example config, loaded, holds placeholders (refused off loopback).
    let example = Settings::load_from(Some(&root().join("stagegate.example.toml")), Vec::new())
        .expect("the example loads");
    let keys: Vec<String> = shipped_secrets(&example)
        .into_iter()
        .map(|s| s.key)
        .collect();
    assert_eq!(keys, ["entra.client_secret", "identity.vault_keys.k1"]);
    assert!(refusal(&example).is_some());
}
