//! Floods of clicks from one person leave bounded state behind: one live
//! sign-in link per person and purpose, no audit row per repeated click,
//! and nothing more to send than the one prompt.

use chrono::Utc;
use stagegate::chat::port::Message;

use crate::engine_support::{EngineApp, sign_in_url, spawn_engine_app_with};

const CLICKS: usize = 50_000;

async fn audit_rows(app: &EngineApp) -> i64 {
    // The engine holds the store behind a trait: read the file directly.
    let db = stagegate::store::SqliteStore::open(&app.db.path().join("stagegate.db"), 1)
        .await
        .unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
        .fetch_one(db.pool())
        .await
        .unwrap();
    rows
}

/// Driven at the engine level (`Engine::action` through the memory chat's
/// `click`, as the Teams and Slack handlers call it once the clicker is
/// authenticated): a full HTTP round per click would make 50,000 clicks
/// too slow for a test. The Teams handler sends a chat message only for a
/// `SignInPrompt` answer, so the prompts counted here are the sends queued.
#[tokio::test]
async fn fifty_thousand_clicks_from_an_unlinked_approver_leave_one_live_link() {
    let app = spawn_engine_app_with(|s| s.engine.clicks_per_minute = 1_000_000).await;
    app.link("alex").await;
    let id = app
        .request("alex", "request global-admin INC-7 rotate the certificate")
        .await;
    let card = app.card("miriam", &id, 1).expect("Miriam's card");
    let approve = EngineApp::approve(&card);
    let miriam = app.persona("miriam");
    let audited_before = audit_rows(&app).await;

    let first = app
        .chat
        .click(&miriam, &approve, Some("Known incident"))
        .await;
    let link = sign_in_url(&first);
    let mut prompts = 1;
    for _ in 1..CLICKS {
        let reply = app
            .chat
            .click(&miriam, &approve, Some("Known incident"))
            .await;
        match reply {
            Message::SignInPrompt { .. } => prompts += 1,
            Message::SignInStillValid { text } => {
                assert!(text.contains("still valid"), "{text}");
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(prompts, 1, "one sign-in prompt to send, not one per click");
    let store = app.engine.store();
    assert_eq!(
        store.live_link_tokens(&miriam, Utc::now()).await.unwrap(),
        1
    );
    assert_eq!(
        audit_rows(&app).await - audited_before,
        1,
        "the first click is audited; the repeats are counted on the link"
    );

    // Deny after Approve: the same link now carries the denial, and says so.
    let deny = EngineApp::deny(&card);
    let reply = app.chat.click(&miriam, &deny, Some("Not needed")).await;
    let Message::SignInStillValid { text } = &reply else {
        panic!("expected the still-valid answer, got {reply:?}");
    };
    assert!(
        text.contains("replaced") && text.contains("denial") && text.contains("approval"),
        "{text}"
    );
    assert_eq!(
        store.live_link_tokens(&miriam, Utc::now()).await.unwrap(),
        1
    );

    // Signing in with the one link completes the last decision.
    app.sign_in(&link, "miriam").await;
    let world = app.sandbox.state.world();
    let stage = &world.requests[&id.to_string()].stages[0];
    assert_eq!(stage.review_result, "Denied");
    assert_eq!(stage.justification, "Not needed");
}
