//! Privileged group membership seen through the real intake: the bot
//! subscribes to the PIM groups' members, the sandbox notifies it, and the
//! security channel hears of every activation — explained by an approved
//! request, or flagged when nothing explains it.

use serde_json::json;
use stagegate::chat::port::Message;

use crate::engine_support::{EngineApp, spawn_engine_app};
use crate::helpers::{eventually, group_id};

fn alerts(app: &EngineApp) -> Vec<(String, Vec<String>)> {
    app.security()
        .into_iter()
        .filter_map(|m| match m {
            Message::SecurityAlert { title, lines } => Some((title, lines)),
            _ => None,
        })
        .collect()
}

/// Waits until the bot's subscription on `group`'s members exists.
async fn subscribed(app: &EngineApp, group: &str) {
    let resource = format!("/groups/{group}/members");
    eventually(|| async {
        let found = app
            .sandbox
            .state
            .notify
            .lock()
            .subscriptions
            .values()
            .any(|s| s.resource.trim_start_matches('/') == resource.trim_start_matches('/'));
        found.then_some(())
    })
    .await;
}

#[tokio::test]
async fn membership_nobody_approved_is_flagged() {
    let app = spawn_engine_app().await;
    let group = group_id(&app.sandbox, "grp-elig-globaladmin");
    subscribed(&app, &group).await;
    let johanna = app.sandbox.persona_id("johanna");
    app.sandbox.state.world().add_member(&group, &johanna);

    let (title, lines) = eventually(|| async {
        app.settle().await;
        alerts(&app)
            .into_iter()
            .find(|(t, _)| t.contains("not made through stagegate"))
    })
    .await;
    assert!(title.contains("not made through stagegate"));
    assert!(
        lines.iter().any(|l| l.contains("Johanna Lorenz")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains(&group)), "{lines:?}");
}

#[tokio::test]
async fn activation_outside_chat_names_the_approval_behind_it() {
    let app = spawn_engine_app().await;
    let group = group_id(&app.sandbox, "grp-elig-globaladmin");
    subscribed(&app, &group).await;
    for key in ["alex", "miriam", "bianca"] {
        app.link(key).await;
    }
    let id = app
        .request(
            "alex",
            "request global-admin TICKET-77 certificate rotation",
        )
        .await;
    let card = app.card("miriam", &id, 1).expect("stage 1 card");
    app.click("miriam", &EngineApp::approve(&card), Some("known change"))
        .await;
    let card = app.card("bianca", &id, 2).expect("stage 2 card");
    app.click(
        "bianca",
        &EngineApp::approve(&card),
        Some("approved by security"),
    )
    .await;
    app.reconcile(&id).await;

    // Alex activates in the PIM portal (a direct Graph call), not in chat.
    let alex = app.sandbox.persona_id("alex");
    let token = app.sandbox.user_token("alex", true).await;
    let (status, body) = app
        .sandbox
        .graph_post(
            &token,
            "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests",
            &json!({
                "accessId": "member", "principalId": alex, "groupId": group,
                "action": "selfActivate", "justification": "portal activation",
                "scheduleInfo": { "expiration": { "type": "afterDuration", "duration": "PT1H" } },
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (_, lines) = eventually(|| async {
        app.settle().await;
        alerts(&app)
            .into_iter()
            .find(|(t, _)| t.contains("activated outside chat"))
    })
    .await;
    let text = lines.join("\n");
    for expected in [
        id.to_string().as_str(),
        "Miriam Graham",
        "Bianca Pisani",
        "TICKET-77",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    assert!(
        !alerts(&app)
            .iter()
            .any(|(t, _)| t.contains("not made through stagegate")),
        "an approved activation is not flagged"
    );
}
