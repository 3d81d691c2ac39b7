//! The production topology in the sandbox: the emulators on their own
//! (what `stagegate sandbox --emulators-only` runs; here in the test's
//! process), the production binary in another (`stagegate serve --config
//! sandbox/stagegate.sandbox.toml`), sharing the shipped config's
//! sandbox-only secrets.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use stagegate::config::Settings;
use stagegate_lab::wiring::BotWiring;
use stagegate_sandbox::SimState;
use stagegate_sandbox::tenant::{SEED_TENANT, TenantFile};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox/stagegate.sandbox.toml")
}

/// What the shipped file must say: the in-process sandbox's own bot
/// settings for the seeded tenant on the default ports, with the file's
/// secrets. `STAGEGATE_BLESS=1` rewrites the file from the code.
#[test]
fn the_shipped_sandbox_config_is_the_seeded_sandboxs_bot_config() {
    let text = std::fs::read_to_string(shipped()).unwrap();
    let file = Settings::load_from(Some(&shipped()), Vec::new()).expect("the shipped file loads");
    let world = TenantFile::parse(SEED_TENANT)
        .unwrap()
        .into_world(chrono::Utc::now())
        .unwrap();
    let secrets =
        stagegate_lab::wiring::fixed_secrets(&file).expect("every shared secret is there");
    let state = SimState::with_secrets("http://127.0.0.1:3979".into(), world, Some(secrets));
    let scratch = tempfile::tempdir().unwrap();
    let mut expected = state.bot_settings(
        "127.0.0.1:3978".parse().unwrap(),
        scratch.path().join("stagegate-sandbox.db"),
    );
    expected.database.path = "stagegate-sandbox.db".into();
    expected.identity.vault_keys = file.identity.vault_keys.clone();
    let rendered = format!(
        "{}\n{}",
        HEADER.trim_start(),
        toml::to_string(&expected).unwrap()
    );
    if std::env::var_os("STAGEGATE_BLESS").is_some() {
        std::fs::write(shipped(), &rendered).unwrap();
        return;
    }
    assert_eq!(
        text, rendered,
        "sandbox/stagegate.sandbox.toml is stale: rerun this test with STAGEGATE_BLESS=1"
    );
    assert!(
        file.refuse_sandbox_secrets_off_loopback().is_ok(),
        "all on loopback"
    );
}

const HEADER: &str = r#"
# stagegate's bot config for the SANDBOX ONLY — every secret below is fake,
# public, and marked `not-for-production`; the bot recognises them and refuses
# to start with them unless it listens on loopback and every Microsoft and
# Slack endpoint is on loopback.
#
#   stagegate sandbox --emulators-only          # the emulated cloud on :3979
#   stagegate serve --config sandbox/stagegate.sandbox.toml   # the bot on :3978
#
# Generated from the seeded tenant by the test
# `topology::the_shipped_sandbox_config_is_the_seeded_sandboxs_bot_config`
# (STAGEGATE_BLESS=1 rewrites it); edit the secrets only.
"#;

#[test]
fn sandbox_secrets_are_refused_off_loopback() {
    for (var, value) in [
        (
            "STAGEGATE_GRAPH__BASE_URL",
            "https://graph.microsoft.com/v1.0",
        ),
        (
            "STAGEGATE_ENTRA__LOGIN_BASE_URL",
            "https://login.microsoftonline.com",
        ),
        ("STAGEGATE_SLACK__API_BASE_URL", "https://slack.com/api"),
    ] {
        let settings =
            Settings::load_from(Some(&shipped()), vec![(var.to_owned(), value.to_owned())])
                .unwrap();
        let refused = settings
            .refuse_sandbox_secrets_off_loopback()
            .unwrap_err()
            .to_string();
        assert!(refused.contains("not on loopback"), "{refused}");
        assert!(
            !refused.contains("sandbox-client-secret"),
            "no secret value in the error: {refused}"
        );
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stagegate(args: &[&str], env: &[(String, String)]) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(args)
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("stagegate starts");
    Proc(child)
}

async fn wait_ready(url: &str) {
    let http = reqwest::Client::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(r) = http.get(format!("{url}/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the bot became ready");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The bot as its own process against the emulators at `sim`, on `port`,
/// with its database in `dir`.
fn bot(sim: &str, port: u16, dir: &Path) -> Proc {
    let env = [
        ("STAGEGATE_SERVER__BIND", format!("127.0.0.1:{port}")),
        (
            "STAGEGATE_SERVER__PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "STAGEGATE_DATABASE__PATH",
            dir.join("bot.db").display().to_string(),
        ),
        ("STAGEGATE_ENTRA__LOGIN_BASE_URL", format!("{sim}/login")),
        ("STAGEGATE_GRAPH__BASE_URL", format!("{sim}/graph/v1.0")),
        (
            "STAGEGATE_TEAMS__OPENID_METADATA_URL",
            format!("{sim}/botframework/v1/.well-known/openidconfiguration"),
        ),
        ("STAGEGATE_TEAMS__SERVICE_URL", format!("{sim}/teams/")),
        ("STAGEGATE_SLACK__API_BASE_URL", format!("{sim}/slack/api")),
        (
            "STAGEGATE_SLACK__RESPONSE_URL_BASE",
            format!("{sim}/slack/hooks/"),
        ),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let config = shipped();
    stagegate(&["serve", "--config", config.to_str().unwrap()], &env)
}

async fn post(url: String, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_bot_in_its_own_process_survives_a_sigkill_while_the_emulators_run_on() {
    let file = Settings::load_from(Some(&shipped()), Vec::new()).unwrap();
    let emulators = stagegate_lab::cli::emulators_for(&file, 0, None)
        .await
        .expect("the emulators start on the shipped config");
    let sim = emulators.base_url().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let emulators = tokio::spawn(emulators.run_until(async {
        let _ = stopped.await;
    }));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bot_url = format!("http://127.0.0.1:{port}");
    let mut first = bot(&sim, port, dir.path());
    wait_ready(&bot_url).await;
    let (status, _) = post(format!("{sim}/sim/bot"), json!({ "url": bot_url })).await;
    assert_eq!(status, 200);

    let (status, body) = post(format!("{sim}/sim/teams/personas/alex/install"), json!({})).await;
    assert_eq!(
        (status, body["bot"]["status"].clone()),
        (200, json!(200)),
        "{body}"
    );
    let (status, body) = post(
        format!("{sim}/sim/teams/personas/alex/messages"),
        json!({ "text": "help" }),
    )
    .await;
    assert_eq!(
        (status, body["bot"]["status"].clone()),
        (200, json!(200)),
        "{body}"
    );

    // SIGKILL: the emulated cloud keeps answering without the bot.
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let tenant = reqwest::get(format!("{sim}/sim/tenant")).await.unwrap();
    assert_eq!(tenant.status(), 200);
    let (_, body) = post(
        format!("{sim}/sim/teams/personas/alex/messages"),
        json!({ "text": "help" }),
    )
    .await;
    assert_ne!(
        body["bot"]["status"], 200,
        "nobody answers while the bot is down: {body}"
    );

    // Restarted on the same database, it answers again.
    let _second = bot(&sim, port, dir.path());
    wait_ready(&bot_url).await;
    let (_, body) = post(
        format!("{sim}/sim/teams/personas/alex/messages"),
        json!({ "text": "help" }),
    )
    .await;
    assert_eq!(body["bot"]["status"], 200, "{body}");
    let convo: Value = reqwest::get(format!("{sim}/sim/teams/personas/alex/conversation"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let from_bot = convo["activities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["from"]["id"]
                .as_str()
                .is_some_and(|f| f.starts_with("28:"))
        })
        .count();
    assert!(
        from_bot >= 2,
        "help answered before and after the restart: {convo}"
    );
    let _ = stop.send(());
    emulators.await.unwrap().unwrap();
}
