//! The sandbox console in a real browser: headless Chromium, driven over
//! WebDriver (chromedriver + fantoccini), clicks and types through the
//! seeded story on Teams and then on Slack, exactly as a first-time visitor
//! would: Alex requests, Miriam and Bianca approve with justifications,
//! Alex activates for 4 h with an MFA sign-in on the emulated Entra page,
//! and the security channel shows the alert. Screenshots of the final state
//! go to `target/console-artifacts/` (`console.png` is the README's).
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium`: without them the
//! test fails under CI (env `CI` set) and is skipped otherwise.

mod browser;

use browser::{Browser, Chromedriver};
use stagegate_lab::launch::{LaunchOptions, Launched};

const REQUEST: &str = "global-admin TICKET-123 rotate the break-glass certificate";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeded_story_in_the_console_on_teams_and_slack() {
    let Some(chromedriver) = Chromedriver::start().await else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install chromium and chromium-driver"
        );
        println!("skipped: no chromedriver");
        return;
    };
    let artifacts = browser::artifacts_dir();

    let (launched, _db) = launch().await;
    let browser = Browser::open(&chromedriver, &launched).await;
    teams_story(&browser).await;
    browser.screenshot(&artifacts.join("console.png")).await;
    browser.close().await;
    launched.stop().await.unwrap();

    let (launched, _db) = launch().await;
    let browser = Browser::open(&chromedriver, &launched).await;
    slack_story(&browser).await;
    browser
        .screenshot(&artifacts.join("console-slack.png"))
        .await;
    browser.close().await;
    launched.stop().await.unwrap();
}

/// The sandbox and the bot, prepared as `stagegate sandbox` prepares them.
async fn launch() -> (Launched, tempfile::TempDir) {
    let db = tempfile::tempdir().unwrap();
    let launched = Launched::start(LaunchOptions::ephemeral(db.path().join("stagegate.db")))
        .await
        .expect("sandbox and bot start");
    stagegate_sandbox::console::install_chat_apps(&launched.state)
        .await
        .expect("the bot joins the security channel's team");
    (launched, db)
}

async fn teams_story(b: &Browser) {
    b.pick("alex").await;
    b.type_into("#teams-input", &format!("request {REQUEST}"))
        .await;
    let signed = b.count(TEAMS_SIGN_IN).await;
    b.click("#teams-send").await;
    b.sign_in_with_newest(TEAMS_SIGN_IN, signed, "alex").await;
    b.wait_for("[data-request-id]").await;

    // Stage 1: Miriam approves on her card, then signs in so it is relayed.
    b.pick("miriam").await;
    approve_on_teams(b, "miriam", "Known incident TICKET-123").await;
    b.wait_text("#requests", "Approved by Miriam Graham").await;

    // Stage 2: Bianca.
    b.pick("bianca").await;
    approve_on_teams(b, "bianca", "Break-glass rotation approved").await;
    b.wait_for("#requests [data-state=delivered]").await;

    // Alex activates for 4 hours; PIM wants MFA: a step-up sign-in.
    b.pick("alex").await;
    let card = "#teams-chat .card:has(button[data-verb=activate])";
    b.wait_for(card).await;
    b.select(&format!("{card} select[data-input-id=duration]"), "PT4H")
        .await;
    let signed = b.count(TEAMS_SIGN_IN).await;
    b.click(&format!("{card} button[data-verb=activate]")).await;
    b.sign_in_with_newest(TEAMS_SIGN_IN, signed, "alex").await;

    b.wait_text("#groups", "Alex Wilber").await;
    b.wait_text("#teams-channels", "activated").await;
    b.wait_text("#teams-channels", "TICKET-123").await;
}

const TEAMS_SIGN_IN: &str = "#teams-chat button[data-action-type='Action.OpenUrl']";
const SLACK_SIGN_IN: &str = "#slack-chat button[data-action-id=sign_in]";

async fn approve_on_teams(b: &Browser, key: &str, justification: &str) {
    let card = "#teams-chat .card:has(button[data-verb=approve])";
    b.wait_for(card).await;
    b.type_into(
        &format!("{card} textarea[data-input-id=justification]"),
        justification,
    )
    .await;
    let signed = b.count(TEAMS_SIGN_IN).await;
    b.click(&format!("{card} button[data-verb=approve]")).await;
    b.sign_in_with_newest(TEAMS_SIGN_IN, signed, key).await;
}

async fn slack_story(b: &Browser) {
    // The approvers never used the bot: the bot finds them by their Entra
    // mail, and each signs in on their first decision.
    b.pick("alex").await;
    b.type_into("#slack-input", &format!("/request {REQUEST}"))
        .await;
    let signed = b.count(SLACK_SIGN_IN).await;
    b.click("#slack-send").await;
    b.sign_in_with_newest(SLACK_SIGN_IN, signed, "alex").await;
    b.wait_for("[data-request-id]").await;

    b.pick("miriam").await;
    approve_on_slack(b, "miriam", "Known incident TICKET-123").await;
    b.wait_text("#requests", "Approved by Miriam Graham").await;

    b.pick("bianca").await;
    approve_on_slack(b, "bianca", "Break-glass rotation approved").await;
    b.wait_for("#requests [data-state=delivered]").await;

    b.pick("alex").await;
    let activate = "#slack-chat button[data-action-id=activate_PT4H]";
    b.wait_for(activate).await;
    let signed = b.count(SLACK_SIGN_IN).await;
    b.click(activate).await;
    b.sign_in_with_newest(SLACK_SIGN_IN, signed, "alex").await;

    b.wait_text("#groups", "Alex Wilber").await;
    b.wait_text("#slack-chat", "Activated until").await;
    b.wait_text(".security", "activated").await;
    // The guide's Slack steps, for the screenshot.
    b.click("#guide-slack").await;
    b.wait_text("#guide-steps-slack", "never used the bot")
        .await;
}

/// Approve on the Slack card, justify in the modal and submit it, then
/// sign in as `key` (their first decision: they never linked).
async fn approve_on_slack(b: &Browser, key: &str, justification: &str) {
    let approve = "#slack-chat button[data-action-id=approve]";
    b.wait_for(approve).await;
    b.click(approve).await;
    b.wait_for("#slack-modal:not([hidden]) #slack-modal-submit")
        .await;
    b.type_into(
        "#slack-modal textarea[data-block-id], #slack-modal input[data-block-id]",
        justification,
    )
    .await;
    let signed = b.count(SLACK_SIGN_IN).await;
    b.click("#slack-modal-submit").await;
    b.wait_for("#slack-modal[hidden]").await;
    b.sign_in_with_newest(SLACK_SIGN_IN, signed, key).await;
}
