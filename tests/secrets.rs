//! No secret leaks: the seeded story runs on Teams and on Slack with every
//! crate logging at TRACE into a buffer, then every secret and credential
//! the run used — the app's client secret, the Bot Framework app password,
//! Slack's signing secret and bot token, the vault key, the intake's
//! clientState and callout secret, every code and token the emulated Entra
//! issued, the Bot Framework tokens on activities, the sign-in link tokens —
//! is looked for in every log line, every body the bot answered Teams and
//! Slack with, and every column of every table of the bot's database.
//!
//! Every shipped scenario (`scenarios/*.toml`) runs the same way (issue 9 §5).
//!
//! Its own test binary: the capturing subscriber must be the process's
//! global one, installed before anything logs.
#![allow(dead_code, unused_imports)]

#[path = "api/entra_support.rs"]
mod entra_support;
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/slack_app_support.rs"]
mod slack_app_support;
#[path = "api/slack_story.rs"]
mod slack_story;
#[path = "api/slack_support.rs"]
mod slack_support;
#[path = "api/teams_adapter_support.rs"]
mod teams_adapter_support;
#[path = "api/teams_story.rs"]
mod teams_story;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use secrecy::ExposeSecret;
use sqlx::Row;
use stagegate_lab::wiring::BotWiring;
use stagegate_sandbox::SimState;

const LINK_TOKEN: &str = "a sign-in link token";
const BOT_ANSWER: &str = "a body the bot answered with";

/// Everything logged by this process.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        logs
    })
}

fn logs() -> String {
    String::from_utf8_lossy(&capture().0.lock().unwrap()).into_owned()
}

/// The secrets and credentials a run on `state` with the bot's database at
/// `db` used, with what each is; `signed_in`: people signed in during it.
async fn secrets_of(
    state: &SimState,
    db: &Path,
    base_url: &str,
    signed_in: bool,
) -> Vec<(String, String)> {
    let settings = state.bot_settings(helpers::loopback0(), db.to_path_buf());
    let mut out = vec![(
        "entra.client_secret".to_owned(),
        settings.entra.client_secret.expose_secret().to_owned(),
    )];
    for (id, key) in &settings.identity.vault_keys {
        out.push((format!("vault key {id}"), key.expose_secret().to_owned()));
    }
    if let Some(teams) = &settings.teams {
        out.push((
            "teams.app_password".into(),
            teams.app_password.expose_secret().to_owned(),
        ));
    }
    if let Some(slack) = &settings.slack {
        out.push((
            "slack.signing_secret".into(),
            slack.signing_secret.expose_secret().to_owned(),
        ));
        out.push((
            "slack.bot_token".into(),
            slack.bot_token.expose_secret().to_owned(),
        ));
    }
    if let Some(s) = &settings.intake.client_state {
        out.push(("intake.client_state".into(), s.expose_secret().to_owned()));
    }
    if let Some(s) = &settings.intake.callout_secret {
        out.push(("intake.callout_secret".into(), s.expose_secret().to_owned()));
    }
    let issued: Vec<String> = state
        .entra
        .lock()
        .unwrap()
        .issued()
        .map(str::to_owned)
        .collect();
    assert!(
        issued.len() > if signed_in { 10 } else { 0 },
        "the run signed people in and called Graph"
    );
    for credential in issued {
        out.push(("a credential the emulated Entra issued".into(), credential));
    }
    for token in link_tokens(state, base_url, signed_in).await {
        out.push((LINK_TOKEN.into(), token));
    }
    out
}

/// Link tokens of every sign-in link people were shown (they are meant for
/// the person's chat only).
async fn link_tokens(state: &SimState, base_url: &str, signed_in: bool) -> Vec<String> {
    let keys: Vec<String> = state
        .world()
        .users
        .values()
        .map(|u| u.key.clone())
        .collect();
    let http = reqwest::Client::new();
    let mut shown = String::new();
    for key in keys {
        for path in [
            format!("/sim/teams/personas/{key}/conversation"),
            format!("/sim/slack/personas/{key}/conversations/dm"),
        ] {
            if let Ok(r) = http.get(format!("{base_url}{path}")).send().await {
                shown.push_str(&r.text().await.unwrap_or_default());
            }
        }
    }
    let pattern = regex::Regex::new(r"/auth/start\?t=([A-Za-z0-9_-]{20,})").unwrap();
    let tokens: Vec<String> = pattern
        .captures_iter(&shown)
        .map(|c| c[1].to_owned())
        .collect();
    assert!(
        !signed_in || !tokens.is_empty(),
        "people were sent sign-in links"
    );
    tokens
}

/// Every value of every column of every table, as bytes.
async fn database_values(db: &Path) -> Vec<(String, Vec<u8>)> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open the bot's database");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut out = Vec::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query(&format!("PRAGMA table_info(\"{table}\")"))
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("name"))
            .collect();
        for column in columns {
            let values: Vec<Option<Vec<u8>>> = sqlx::query_scalar(&format!(
                "SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\""
            ))
            .fetch_all(&pool)
            .await
            .unwrap();
            for value in values.into_iter().flatten() {
                out.push((format!("{table}.{column}"), value));
            }
        }
    }
    out
}

/// Where each secret was found: (what it is, where).
fn leaks(
    secrets: &[(String, String)],
    texts: &[(String, String)],
    rows: &[(String, Vec<u8>)],
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (what, secret) in secrets {
        // Short values would match by chance; every secret here is long.
        assert!(secret.len() >= 16, "{what} is suspiciously short");
        for (place, text) in texts {
            // A sign-in link is delivered to its person in the bot's answer
            // to their own slash command (Slack shows it to them alone);
            // anywhere else it is a leak.
            let delivery = what == LINK_TOKEN && place == BOT_ANSWER;
            if !delivery && text.contains(secret.as_str()) {
                found.push((what.clone(), place.clone()));
            }
        }
        for (place, bytes) in rows {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push((what.clone(), place.clone()));
            }
        }
    }
    found
}

async fn check_no_leak(state: &SimState, base_url: &str, db: &Path) {
    check_no_leak_after(state, base_url, db, true).await;
}

async fn check_no_leak_after(state: &SimState, base_url: &str, db: &Path, signed_in: bool) {
    let secrets = secrets_of(state, db, base_url, signed_in).await;
    let logged = logs();
    assert!(
        logged.contains("TRACE") && logged.contains("stagegate::"),
        "the run logged at TRACE, the bot's own modules included"
    );
    let mut texts = vec![("the logs".to_owned(), logged)];
    for answer in state.bot_answers() {
        texts.push((BOT_ANSWER.to_owned(), answer));
    }
    let rows = database_values(db).await;
    assert!(!signed_in || rows.iter().any(|(p, _)| p == "links.refresh_token"));
    let found = leaks(&secrets, &texts, &rows);
    assert!(found.is_empty(), "secrets leaked: {found:?}");
}

#[tokio::test]
async fn the_seeded_story_on_teams_leaks_no_secret() {
    capture();
    let app = teams_adapter_support::spawn_teams_app().await;
    teams_story::story(&app).await;
    app.settle().await;
    check_no_leak(&app.sandbox.state, &app.sandbox.base_url, &app.db_path()).await;
    // Nor in the figures: the metrics listener's whole answer.
    let metrics = app.metrics.expect("metrics are on");
    let figures = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        figures.contains("stagegate_decisions_relayed_total"),
        "{figures}"
    );
    let secrets = secrets_of(
        &app.sandbox.state,
        &app.db_path(),
        &app.sandbox.base_url,
        true,
    )
    .await;
    let found = leaks(&secrets, &[("/metrics".to_owned(), figures)], &[]);
    assert!(found.is_empty(), "secrets in /metrics: {found:?}");
}

#[tokio::test]
async fn the_seeded_story_on_slack_leaks_no_secret() {
    capture();
    let app = slack_app_support::spawn_slack_app().await;
    slack_story::story(&app).await;
    app.settle().await;
    check_no_leak(&app.sandbox.state, &app.sandbox.base_url, &app.db_path()).await;
}

/// Runs the shipped scenario `name` on each of its platforms at TRACE (a
/// fresh sandbox and bot each), then looks for every secret it used.
async fn scenario_leaks_nothing(name: &str) {
    use stagegate_lab::launch::{LaunchOptions, Launched};
    use stagegate_lab::scenario;
    use stagegate_lab::scenario::model::{Action, StepKind};
    capture();
    let loaded = scenario::load(name).unwrap();
    let signed_in = loaded.scenario.steps.iter().any(|s| {
        matches!(
            s.kind,
            StepKind::Do(Action::Link { .. } | Action::SignIn { .. })
        )
    });
    for &platform in &loaded.scenario.platforms {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bot.db");
        let launched = Launched::start(LaunchOptions {
            poll_interval_seconds: Some(1),
            ..LaunchOptions::ephemeral(db.clone())
        })
        .await
        .unwrap();
        let mut transcript: Vec<u8> = Vec::new();
        let result = scenario::run_on(
            &launched.sim_url,
            &loaded.scenario,
            platform,
            scenario::STEP_TIMEOUT,
            &mut transcript,
        )
        .await;
        if let Err(failure) = result {
            panic!("{}\n{failure}", String::from_utf8_lossy(&transcript));
        }
        check_no_leak_after(&launched.state, &launched.sim_url, &db, signed_in).await;
        launched.stop().await.unwrap();
    }
}

#[tokio::test]
async fn scenario_seed_leaks_no_secret() {
    scenario_leaks_nothing("seed").await;
}

#[tokio::test]
async fn scenario_deny_leaks_no_secret() {
    scenario_leaks_nothing("deny").await;
}

#[tokio::test]
async fn scenario_timeout_leaks_no_secret() {
    scenario_leaks_nothing("timeout").await;
}

#[tokio::test]
async fn scenario_fallback_leaks_no_secret() {
    scenario_leaks_nothing("fallback").await;
}

#[tokio::test]
async fn scenario_three_stage_leaks_no_secret() {
    scenario_leaks_nothing("three-stage").await;
}

#[tokio::test]
async fn scenario_out_of_band_leaks_no_secret() {
    scenario_leaks_nothing("out-of-band").await;
}

#[tokio::test]
async fn scenario_unapproved_member_leaks_no_secret() {
    scenario_leaks_nothing("unapproved-member").await;
}

#[tokio::test]
async fn scenario_first_time_approver_leaks_no_secret() {
    scenario_leaks_nothing("first-time-approver").await;
}

/// Every shipped scenario has its test above.
#[test]
fn every_shipped_scenario_is_checked() {
    let source = include_str!("secrets.rs");
    for (name, _) in stagegate_lab::scenario::SHIPPED {
        let test = format!("scenario_{}_leaks_no_secret", name.replace('-', "_"));
        assert!(source.contains(&format!("async fn {test}()")), "no {test}");
    }
}

#[test]
fn the_checker_finds_a_planted_secret() {
    capture();
    let planted = "planted-secret-0123456789abcdef".to_owned();
    tracing::info!(value = %planted, "a careless log line");
    let secrets = vec![("planted".to_owned(), planted.clone())];
    let texts = vec![("the logs".to_owned(), logs())];
    let rows = vec![("t.c".to_owned(), format!("x{planted}y").into_bytes())];
    let found = leaks(&secrets, &texts, &rows);
    assert_eq!(
        found,
        [
            ("planted".to_owned(), "the logs".to_owned()),
            ("planted".to_owned(), "t.c".to_owned())
        ]
    );
}
