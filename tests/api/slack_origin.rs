//! Signed Slack requests that must still not be acted on as they ask: a
//! `response_url` pointing anywhere but Slack's hooks, a command or click
//! from another workspace or another app, and a captured request replayed
//! after the bot restarted (finding 7 and the durable replay guard).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::helpers::{eventually, loopback0};
use crate::slack_app_support::{SlackApp, shown, spawn_slack_app};
use stagegate_lab::wiring::BotWiring;

/// A loopback listener standing in for an internal admin URL: counts every
/// request it gets.
struct Trap {
    base_url: String,
    hits: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Trap {
    async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        });
        // Dropping the sender stops the listener.
        let (base_url, stop) = crate::teams_support::serve(app).await;
        Self {
            base_url,
            hits,
            _stop: stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn team(app: &SlackApp) -> String {
    app.slack["teamId"].as_str().unwrap().to_owned()
}

fn app_id(app: &SlackApp) -> String {
    app.slack["appId"].as_str().unwrap().to_owned()
}

/// A slash command form as Slack sends it, from `team` and app `app_id`.
fn command_form(
    user: &str,
    team: &str,
    app_id: Option<&str>,
    command: &str,
    text: &str,
    response_url: &str,
) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("team_id", team)
        .append_pair("channel_id", "D0000000001")
        .append_pair("user_id", user)
        .append_pair("command", command)
        .append_pair("text", text);
    if let Some(app_id) = app_id {
        form.append_pair("api_app_id", app_id);
    }
    form.append_pair("response_url", response_url)
        .append_pair("trigger_id", "1.2.3")
        .finish()
}

/// A click on a button whose value is no action the bot knows (the bot
/// answers "That button isn't one I know").
fn unknown_click(
    user: &str,
    team: Value,
    user_team: &str,
    app_id: &str,
    response_url: &str,
) -> String {
    let click = json!({
        "type": "block_actions", "user": { "id": user, "team_id": user_team },
        "team": team, "api_app_id": app_id, "trigger_id": "1.2.3",
        "container": { "type": "message", "message_ts": "1.000001", "channel_id": "D0000000001" },
        "response_url": response_url,
        "actions": [ { "type": "button", "action_id": "approve", "block_id": "decision",
                       "value": "{\"action\":\"launch\"}", "action_ts": "1.1" } ],
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &click.to_string())
        .finish()
}

#[tokio::test]
async fn a_click_whose_response_url_is_elsewhere_is_answered_by_dm_and_nothing_is_posted_there() {
    let app = spawn_slack_app().await;
    let trap = Trap::start().await;
    let body = unknown_click(
        &app.user_id("alex"),
        json!({ "id": team(&app) }),
        &team(&app),
        &app_id(&app),
        &trap.url("/admin/shutdown?token=t0p"),
    );
    let answer = app.signed_post("/api/slack/interactions", &body).await;
    assert_eq!(answer.status(), 200);
    // The answer still reaches alex, through the Web API (a DM message,
    // not an ephemeral response_url answer)…
    let told = app
        .wait_dm("alex", |m| shown(m).contains("isn't one I know"))
        .await;
    assert_eq!(told["ephemeral"], false, "{told}");
    // …and, with the bot done answering, the loopback URL got nothing.
    assert_eq!(trap.hits(), 0);
}

#[tokio::test]
async fn a_slow_command_whose_response_url_is_elsewhere_is_answered_by_dm() {
    let app = spawn_slack_app().await;
    app.link("alex").await;
    let trap = Trap::start().await;
    let before = app.dm("alex").await.len();
    app.sandbox
        .add_fault(json!({ "path": "/*", "delayMs": 4000 }))
        .await;
    let body = command_form(
        &app.user_id("alex"),
        &team(&app),
        Some(&app_id(&app)),
        "/stagegate",
        "status",
        &trap.url("/hook"),
    );
    let answer: Value = app
        .signed_post("/api/slack/commands", &body)
        .await
        .json()
        .await
        .unwrap();
    assert!(shown(&answer).contains("Working on it"), "{answer}");
    // The late answer comes as a DM once Graph answers (4 s late).
    let late = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let dm = app.dm("alex").await;
            if dm.len() > before {
                return dm[before].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the late answer arrives as a DM");
    assert_eq!(late["ephemeral"], false, "{late}");
    assert_eq!(trap.hits(), 0);
}

/// The bot answered with `text` and did nothing else: no request reached
/// Graph and alex was sent nothing (not even a sign-in link).
async fn refused_without_acting(app: &SlackApp, answer: reqwest::Response, text: &str) {
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["text"], text, "{answer}");
    app.settle().await;
    assert!(app.sandbox.state.world().requests.is_empty());
    assert!(app.dm("alex").await.is_empty());
}

#[tokio::test]
async fn a_command_from_another_workspace_is_refused_and_the_engine_never_runs() {
    let app = spawn_slack_app().await;
    let body = command_form(
        &app.user_id("alex"),
        "TFOREIGN01",
        Some(&app_id(&app)),
        "/request",
        "global-admin TICKET-123 rotate the certificate",
        &app.sandbox.url("/slack/hooks/unused"),
    );
    let answer = app.signed_post("/api/slack/commands", &body).await;
    refused_without_acting(
        &app,
        answer,
        "This stagegate does not serve this Slack workspace.",
    )
    .await;
}

#[tokio::test]
async fn a_command_for_another_app_or_none_is_refused_and_the_engine_never_runs() {
    let app = spawn_slack_app().await;
    for app_id in [Some("AFOREIGN01"), None] {
        let body = command_form(
            &app.user_id("alex"),
            &team(&app),
            app_id,
            "/request",
            "global-admin TICKET-123 rotate the certificate",
            &app.sandbox.url("/slack/hooks/unused"),
        );
        let answer = app.signed_post("/api/slack/commands", &body).await;
        refused_without_acting(
            &app,
            answer,
            "This stagegate does not serve this Slack app.",
        )
        .await;
    }
}

#[tokio::test]
async fn clicks_and_forms_from_another_workspace_are_refused_and_org_wide_ones_served() {
    let app = spawn_slack_app().await;
    let hooks = app.sandbox.url("/slack/hooks/unused");
    let user = app.user_id("alex");
    let foreign = unknown_click(
        &user,
        json!({ "id": "TFOREIGN01" }),
        "TFOREIGN01",
        &app_id(&app),
        &hooks,
    );
    let answer = app.signed_post("/api/slack/interactions", &foreign).await;
    assert_eq!(answer.status(), 403);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("does not serve this Slack workspace")
    );
    // A modal submission shows the refusal in place of the form.
    let mut form: Value = serde_json::from_str(
        &url::form_urlencoded::parse(app.submission_body("alex", "{}", "x").as_bytes())
            .next()
            .unwrap()
            .1,
    )
    .unwrap();
    form["team"]["id"] = json!("TFOREIGN01");
    form["user"]["team_id"] = json!("TFOREIGN01");
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &form.to_string())
        .finish();
    let answer: Value = app
        .signed_post("/api/slack/interactions", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["response_action"], "update", "{answer}");
    assert!(
        answer
            .to_string()
            .contains("does not serve this Slack workspace")
    );
    app.settle().await;
    assert!(app.dm("alex").await.is_empty(), "nothing was said to alex");
    // An org-wide (Enterprise Grid) install sends `team: null`; the user's
    // own workspace, ours, is served (no response_url: answered by DM).
    let grid = unknown_click(&user, Value::Null, &team(&app), &app_id(&app), "");
    let answer = app.signed_post("/api/slack/interactions", &grid).await;
    assert_eq!(answer.status(), 200);
    app.wait_dm("alex", |m| shown(m).contains("isn't one I know"))
        .await;
}

#[tokio::test]
async fn a_captured_request_replayed_after_a_restart_is_ignored() {
    let app = spawn_slack_app().await;
    app.link("alex").await;
    let body = command_form(
        &app.user_id("alex"),
        &team(&app),
        Some(&app_id(&app)),
        "/request",
        "global-admin TICKET-123 rotate the certificate",
        &app.sandbox.url("/slack/hooks/unused"),
    );
    let (ts, signature) = app.sign(&body);
    let first = app
        .post_with_signature("/api/slack/commands", &body, &ts, &signature)
        .await;
    assert_eq!(first.status(), 200);
    let alex = app.sandbox.persona_id("alex");
    let requests = |app: &SlackApp| {
        let world = app.sandbox.state.world();
        world
            .requests
            .values()
            .filter(|r| r.target_id == alex)
            .count()
    };
    eventually(|| async { (requests(&app) == 1).then_some(()) }).await;

    let app = app.restart().await;
    let again = app
        .post_with_signature("/api/slack/commands", &body, &ts, &signature)
        .await;
    // Acknowledged (Slack must get its 200) with nothing said or done.
    assert_eq!(again.status(), 200);
    assert_eq!(again.text().await.unwrap(), "");
    app.settle().await;
    assert_eq!(requests(&app), 1, "no second request reached Graph");
}

/// With no `slack.team_ids`, the workspace served is the bot token's own
/// (`auth.test`); while Slack cannot be asked, every request is refused.
#[tokio::test]
async fn without_team_ids_the_bot_tokens_workspace_is_served() {
    use stagegate::chat::slack::{OriginError, SlackOrigin};
    let sandbox = crate::helpers::spawn_sandbox().await;
    let slack = crate::slack_support::slack_of(&sandbox).await;
    let (team, app) = (
        slack["teamId"].as_str().unwrap(),
        slack["appId"].as_str().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sandbox
        .state
        .bot_settings(loopback0(), dir.path().join("unused.db"))
        .slack
        .unwrap();
    settings.team_ids.clear();
    let client = crate::slack_support::bot_client(&sandbox).await;
    let origin = SlackOrigin::from_settings(&settings, client).unwrap();
    assert_eq!(origin.admit(Some(app), Some(team)).await, Ok(()));
    assert_eq!(
        origin.admit(Some(app), Some("TFOREIGN01")).await,
        Err(OriginError::ForeignTeam {
            found: Some("TFOREIGN01".into())
        })
    );
    assert!(matches!(
        origin.admit(Some(app), None).await,
        Err(OriginError::ForeignTeam { found: None })
    ));
    // Slack unreachable: refused, not guessed.
    settings.api_base_url = "http://127.0.0.1:9/api".into();
    let dead =
        stagegate::chat::slack::SlackClient::from_settings(reqwest::Client::new(), &settings);
    let origin = SlackOrigin::from_settings(&settings, dead).unwrap();
    assert!(matches!(
        origin.admit(Some(app), Some(team)).await,
        Err(OriginError::TeamUnknown(_))
    ));
}
