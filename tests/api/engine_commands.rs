//! Chat commands: help, validation before anything else, `--dry-run`,
//! `status`, `cancel`, `pending`, `unlink`, and the per-person limit.

use stagegate::chat::port::Message;

use crate::engine_support::{decided_cards, spawn_engine_app};

#[tokio::test]
async fn help_and_invalid_requests_need_no_sign_in() {
    let app = spawn_engine_app().await;
    let reply = app.say("alex", "help").await;
    assert!(
        matches!(&reply, Message::Help { text } if text.contains("request <alias>")),
        "{reply:?}"
    );
    let reply = app.say("alex", "request nope INC-1 why").await;
    assert!(reply.text().contains("global-admin"), "{reply:?}");
    let reply = app.say("alex", "request global-admin inc-1 why").await;
    assert!(reply.text().contains("not a valid ticket"), "{reply:?}");
    let reply = app.say("alex", "request global-admin INC-1").await;
    assert!(reply.text().contains("needs a justification"), "{reply:?}");
    let reply = app.say("alex", "frobnicate").await;
    assert!(
        reply.text().contains("I don't know the command"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn dry_run_shows_every_stage_and_submits_nothing() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let reply = app
        .say(
            "alex",
            "request priv-role-admin INC-7 --dry-run delegate roles",
        )
        .await;
    let text = reply.text();
    assert!(text.starts_with("Dry run"), "{text}");
    assert!(text.contains("Stage 1: Miriam Graham"), "{text}");
    assert!(text.contains("Stage 2: "), "{text}");
    for name in ["Bianca Pisani", "Lee Gu", "Isaiah Langer"] {
        assert!(text.contains(name), "{name} missing: {text}");
    }
    assert!(
        !text.contains("Nestor"),
        "disabled users are not asked: {text}"
    );
    assert!(text.contains("Stage 3: Megan Bowen"), "{text}");
    assert!(
        app.sandbox.state.world().requests.is_empty(),
        "nothing submitted"
    );
}

#[tokio::test]
async fn status_pending_and_cancel() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    app.link("miriam").await;
    let id = app
        .request("alex", "request global-admin INC-42 rotate the certificate")
        .await;

    let reply = app.say("alex", "status").await;
    assert!(
        reply.text().contains(&format!("{id} AP – Global Admin")),
        "{reply:?}"
    );
    let reply = app.say("alex", &format!("status {id}")).await;
    assert!(reply.text().contains("pendingApproval"), "{reply:?}");
    assert!(reply.text().contains("Stage 1: waiting"), "{reply:?}");
    let reply = app.say("miriam", &format!("status {id}")).await;
    assert!(
        reply.text().contains("only see the status of your own"),
        "{reply:?}"
    );

    let reply = app.say("miriam", "pending").await;
    assert!(reply.text().contains(&id.to_string()), "{reply:?}");
    let reply = app.say("bianca", "pending").await;
    assert!(matches!(reply, Message::SignInPrompt { .. }), "{reply:?}");

    let reply = app.say("alex", &format!("cancel {id}")).await;
    assert!(reply.text().contains("is cancelled"), "{reply:?}");
    assert_eq!(
        app.sandbox.state.world().requests[&id.to_string()].state,
        "canceled"
    );
    let decided = decided_cards(&app.inbox("miriam"));
    assert_eq!(decided.len(), 1);
    assert!(decided[0].1.starts_with("Cancelled"), "{}", decided[0].1);
    let reply = app.say("miriam", "pending").await;
    assert_eq!(reply.text(), "Nothing awaits your decision.");
}

#[tokio::test]
async fn unlink_forgets_the_person() {
    let app = spawn_engine_app().await;
    app.link("alex").await;
    let reply = app.say("alex", "unlink").await;
    assert!(reply.text().starts_with("Unlinked"), "{reply:?}");
    let reply = app.say("alex", "status").await;
    assert!(matches!(reply, Message::SignInPrompt { .. }), "{reply:?}");

    // Every command is audited, and sign-in links (credentials) never are.
    // The engine holds the store behind a trait: read the file directly.
    let db = stagegate::store::SqliteStore::open(&app.db.path().join("stagegate.db"), 1)
        .await
        .unwrap();
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT action, outcome FROM audit_log ORDER BY id")
            .fetch_all(db.pool())
            .await
            .unwrap();
    let actions: Vec<&str> = rows.iter().map(|(a, _)| a.as_str()).collect();
    assert!(
        actions.contains(&"command.link") && actions.contains(&"command.unlink"),
        "{actions:?}"
    );
    assert!(
        rows.iter().all(|(_, o)| !o.contains("/auth/start")),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_flood_of_commands_is_told_to_slow_down() {
    let app = spawn_engine_app().await;
    let mut slowed = 0;
    for _ in 0..25 {
        if app
            .say("johanna", "help")
            .await
            .text()
            .starts_with("Slow down")
        {
            slowed += 1;
        }
    }
    assert_eq!(slowed, 5, "20 per minute, then slow down");
    // Someone else is not affected.
    assert!(matches!(
        app.say("alex", "help").await,
        Message::Help { .. }
    ));
}

#[tokio::test]
async fn a_flood_of_clicks_is_told_to_slow_down_without_slowing_anyone_else() {
    let app = spawn_engine_app().await;
    // Clicks on a request nobody knows: cheap answers, but each one counts.
    let bogus = stagegate::chat::port::CardAction::Approve {
        request: "00000000-0000-4000-8000-000000000001".parse().unwrap(),
        stage: "00000000-0000-4000-8000-000000000002".parse().unwrap(),
    };
    let mut slowed = 0;
    for _ in 0..35 {
        if app
            .click("johanna", &bogus, Some("flood"))
            .await
            .text()
            .starts_with("Slow down")
        {
            slowed += 1;
        }
    }
    assert_eq!(slowed, 5, "30 per minute, then slow down");
    let other = app.click("alex", &bogus, Some("mine")).await;
    assert!(!other.text().starts_with("Slow down"), "{other:?}");
}
