//! The Bot Framework signing keys stay fresh without ever making an
//! activity wait behind a failing fetch (security finding 8): they are
//! fetched in the background when the bot starts; during an outage of the
//! metadata endpoint known keys are still accepted and unknown ones are
//! refused without a fetch; a key rotated in during the outage is accepted
//! once the endpoint answers again. Assertions count the fetches the
//! emulated login.botframework.com received.

use std::time::Duration;

use serde_json::{Value, json};
use stagegate::chat::teams::AuthSettings;
use stagegate_sandbox::teams::Stats;
use stagegate_sandbox::teams::metadata::{channel_claims, sign};

use crate::helpers::{TestSandbox, eventually, spawn_app, spawn_sandbox};
use crate::teams_support::{TestBot, auth_settings, spawn_bot_with};

/// A Teams message from Alex, signed with the connector's current key or
/// with `key`.
struct Teams<'a> {
    sandbox: &'a TestSandbox,
    bot: &'a TestBot,
}

impl Teams<'_> {
    fn activity(&self) -> Value {
        let world = self.sandbox.state.world();
        json!({
            "type": "message", "id": "1", "channelId": "msteams",
            "serviceUrl": self.sandbox.url("/teams/"),
            "from": { "id": "29:1abc", "aadObjectId": "00000000-0000-0000-0000-00000000a1e5" },
            "conversation": { "conversationType": "personal", "id": "a:1xyz" },
            "recipient": { "id": format!("28:{}", world.app.client_id) },
            "text": "help",
            "channelData": { "tenant": { "id": world.tenant_id } },
        })
    }

    fn token(&self, key: &stagegate_sandbox::teams::PublishedKey) -> String {
        let app_id = self.sandbox.state.world().app.client_id.clone();
        sign(key, &channel_claims(&app_id, &self.sandbox.url("/teams/")))
    }

    /// Posts an activity signed with `key`; the status.
    async fn post(&self, key: &stagegate_sandbox::teams::PublishedKey) -> u16 {
        let response = self
            .sandbox
            .http
            .post(&self.bot.endpoint)
            .bearer_auth(self.token(key))
            .json(&self.activity())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    async fn post_current(&self) -> u16 {
        self.post(&self.sandbox.state.teams.current_key()).await
    }
}

/// (metadata documents, key sets) the emulated Bot Framework served.
fn fetches(sandbox: &TestSandbox) -> (u64, u64) {
    let stats = &sandbox.state.teams.stats;
    (
        Stats::get(&stats.metadata_fetches),
        Stats::get(&stats.key_fetches),
    )
}

/// Every Bot Framework metadata and key fetch answers 503 from now on.
async fn outage(sandbox: &TestSandbox) {
    sandbox
        .add_fault(json!({ "service": "botframework", "path": "/v1/.well-known/*", "status": 503 }))
        .await;
}

async fn outage_over(sandbox: &TestSandbox) {
    sandbox.clear_faults().await;
}

/// How many requests the outage rules refused so far.
async fn refused_fetches(sandbox: &TestSandbox) -> u64 {
    sandbox
        .faults()
        .await
        .iter()
        .map(|r| r["hits"].as_u64().unwrap())
        .sum()
}

/// No retry during the test: what the requests do is all there is.
fn no_retries(mut settings: AuthSettings) -> AuthSettings {
    settings.key_retry_min_delay = Duration::from_secs(3600);
    settings.key_retry_max_delay = Duration::from_secs(3600);
    settings
}

#[tokio::test]
async fn the_keys_are_fetched_when_the_bot_starts_before_any_activity() {
    let app = spawn_app().await;
    let sandbox = &app.sandbox;
    eventually(|| async { (fetches(sandbox) == (1, 1)).then_some(()) }).await;
}

#[tokio::test]
async fn a_stale_key_set_whose_refresh_fails_is_used_without_fetching_per_request() {
    let sandbox = spawn_sandbox().await;
    let mut settings = no_retries(auth_settings(&sandbox));
    // Stale almost at once: the background refresh runs every 50 ms.
    settings.key_refresh_interval = Duration::from_millis(50);
    let bot = spawn_bot_with(settings).await;
    let teams = Teams {
        sandbox: &sandbox,
        bot: &bot,
    };
    assert_eq!(teams.post_current().await, 200);
    outage(&sandbox).await;
    // A background refresh has failed (then waits an hour to retry).
    eventually(|| async { (refused_fetches(&sandbox).await > 0).then_some(()) }).await;
    let before = fetches(&sandbox);
    for _ in 0..3 {
        assert_eq!(teams.post_current().await, 200, "the last good set serves");
    }
    let rotated = sandbox.state.teams.publish_key(&["msteams"], true);
    assert_eq!(teams.post(&rotated).await, 401, "unknown kid, no refresh");
    assert_eq!(
        fetches(&sandbox),
        before,
        "no request fetched (none waited for a fetch)"
    );
    assert_eq!(bot.calls(), 4);
}

#[tokio::test]
async fn with_no_key_set_yet_a_failing_endpoint_is_not_fetched_again_per_request() {
    let sandbox = spawn_sandbox().await;
    outage(&sandbox).await;
    let bot = spawn_bot_with(no_retries(auth_settings(&sandbox))).await;
    let teams = Teams {
        sandbox: &sandbox,
        bot: &bot,
    };
    // The first request waits for the first fetch, which fails.
    assert_eq!(teams.post_current().await, 401);
    assert_eq!(fetches(&sandbox), (1, 0));
    for _ in 0..3 {
        assert_eq!(teams.post_current().await, 401);
    }
    assert_eq!(
        fetches(&sandbox),
        (1, 0),
        "refused at once, without a fetch each"
    );
    assert_eq!(bot.calls(), 0);
}

#[tokio::test]
async fn a_key_rotated_in_during_an_outage_is_accepted_once_the_endpoint_answers() {
    let sandbox = spawn_sandbox().await;
    let mut settings = auth_settings(&sandbox);
    settings.key_retry_min_delay = Duration::from_millis(100);
    settings.key_retry_max_delay = Duration::from_millis(200);
    let bot = spawn_bot_with(settings).await;
    let teams = Teams {
        sandbox: &sandbox,
        bot: &bot,
    };
    assert_eq!(teams.post_current().await, 200);
    outage(&sandbox).await;
    let rotated = sandbox.state.teams.publish_key(&["msteams"], true);
    // Its refresh fails: refused, and the unknown-kid budget is spent.
    assert_eq!(teams.post(&rotated).await, 401);
    outage_over(&sandbox).await;
    // The background retry (not another request) brings the new key in.
    eventually(|| async { (teams.post(&rotated).await == 200).then_some(()) }).await;
}
