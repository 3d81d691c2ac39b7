//! Universal Actions `refresh` on Teams approval cards: the card names
//! its approver's Teams id, and when they open the chat the emulated
//! Teams client asks the bot for the card's current state (signed
//! `adaptiveCard/action`, verb `refresh`, `trigger: "automatic"`) and shows
//! it to them alone. A stale card mends itself; a refresh never decides,
//! and nobody but the stage's approver sees its buttons.

use serde_json::{Value, json};
use stagegate_sandbox::teams::teams_user_id;

use crate::teams_adapter_support::{
    TeamsApp, card_text, execute, spawn_teams_app, stage_one, verbs,
};

fn teams_id(app: &TeamsApp, key: &str) -> String {
    let app_id = app.sandbox.state.world().app.client_id.clone();
    teams_user_id(&app_id, &app.sandbox.persona_id(key))
}

/// `key` opens their chat; the driver's answer.
async fn open(app: &TeamsApp, key: &str) -> Value {
    let (status, body) = app.drive(&format!("/personas/{key}/open"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn card_of(app: &TeamsApp, key: &str, id: &str) -> Value {
    app.cards(key)
        .await
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, card)| card)
        .unwrap_or_else(|| panic!("no card {id} for {key}"))
}

fn stage(app: &TeamsApp, request: &str, k: usize) -> (String, String, Option<String>) {
    let world = app.sandbox.state.world();
    let s = &world.requests[request].stages[k];
    (
        s.status.clone(),
        s.review_result.clone(),
        s.reviewed_by.clone(),
    )
}

#[tokio::test]
async fn the_cards_refresh_runs_for_the_stage_approvers_teams_ids_only() {
    let (app, request, id, card) = stage_one().await;
    let refresh = &card["refresh"];
    assert_eq!(refresh["action"]["type"], "Action.Execute", "{card}");
    assert_eq!(refresh["action"]["verb"], "refresh", "{card}");
    assert_eq!(refresh["action"]["data"]["request"], request.as_str());
    assert_eq!(
        refresh["action"]["data"]["stage"],
        card["actions"][0]["data"]["stage"]
    );
    // Teams user ids (`29:…`), not Entra object ids; a 1:1 chat: hers.
    assert_eq!(refresh["userIds"], json!([teams_id(&app, "miriam")]));
    // Bianca never used the bot: the bot learns her Teams id from her new
    // chat's members.
    app.click(
        "miriam",
        &id,
        "approve",
        json!({ "justification": "ok for TICKET-7" }),
    )
    .await;
    let (_, bianca_card) = app.live_card("bianca", &["approve", "deny"]).await;
    let users = bianca_card["refresh"]["userIds"].as_array().unwrap();
    assert!(users.len() <= 60);
    assert_eq!(users, &vec![json!(teams_id(&app, "bianca"))]);
}

#[tokio::test]
async fn a_live_card_refreshes_to_its_buttons_for_its_approver() {
    let (app, request, id, _) = stage_one().await;
    let opened = open(&app, "miriam").await;
    let runs = opened["refreshed"].as_array().unwrap();
    let run = runs
        .iter()
        .find(|r| r["activityId"] == id.as_str())
        .unwrap_or_else(|| panic!("no refresh of {id}: {opened}"));
    assert_eq!(run["invoke"]["value"]["trigger"], "automatic");
    assert_eq!(run["bot"]["status"], 200, "{run}");
    assert_eq!(run["cardReplaced"], true, "{run}");
    let card = card_of(&app, "miriam", &id).await;
    assert_eq!(verbs(&card), ["approve", "deny"], "{card}");
    assert_eq!(
        card["refresh"]["userIds"],
        json!([teams_id(&app, "miriam")])
    );
    assert_eq!(stage(&app, &request, 0).1, "NotReviewed");
    // Opened again within the minute: nothing is asked again.
    let again = open(&app, "miriam").await;
    assert!(again["refreshed"].as_array().unwrap().is_empty(), "{again}");
}

#[tokio::test]
async fn a_card_left_stale_shows_its_current_state_when_the_approver_opens_the_chat() {
    let (app, request, id, card) = stage_one().await;
    // The card's rewrite never lands: Miriam's chat refuses the bot's
    // writes while she decides in My Access (the outbox gives it up).
    let (status, body) = app.drive("/personas/miriam/block", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let stage_id = card["actions"][0]["data"]["stage"].as_str().unwrap();
    let (status, body) = stagegate_sandbox::client::SimClient::new(&app.sandbox.base_url)
        .decide_in_graph("miriam", &request, stage_id, false, "not this week")
        .await
        .unwrap();
    assert!(status < 300, "{status} {body}");
    app.settle().await;
    let (status, body) = app
        .drive("/personas/miriam/block", json!({ "blocked": false }))
        .await;
    assert_eq!(status, 200, "{body}");
    let stale = card_of(&app, "miriam", &id).await;
    assert_eq!(verbs(&stale), ["approve", "deny"], "not stale: {stale}");
    open(&app, "miriam").await;
    let card = card_of(&app, "miriam", &id).await;
    assert!(verbs(&card).is_empty(), "{card}");
    let text = card_text(&card);
    assert!(text.contains("Denied by Miriam Graham"), "{text}");
    assert!(text.contains("not this week"), "{text}");
}

#[tokio::test]
async fn a_refresh_never_changes_the_request() {
    let (app, request, id, card) = stage_one().await;
    let before = stage(&app, &request, 0);
    let versions_before = app.cards("miriam").await.len();
    // However it is sent: by the client, or by hand with a justification
    // in its data.
    open(&app, "miriam").await;
    let mut data = card["refresh"]["action"]["data"].clone();
    data["justification"] = json!("approve it please");
    let (status, body) = app
        .raw_invoke("miriam", "f:refresh-by-hand", &id, execute("refresh", data))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(verbs(&body["value"]), ["approve", "deny"], "{body}");
    app.settle().await;
    assert_eq!(stage(&app, &request, 0), before);
    assert_eq!(before.1, "NotReviewed");
    // Nothing was posted or relayed for it either.
    assert_eq!(app.cards("miriam").await.len(), versions_before);
    assert_eq!(
        card_of(&app, "miriam", &id).await["refresh"],
        card["refresh"]
    );
}

#[tokio::test]
async fn someone_not_an_approver_who_refreshes_the_card_gets_no_buttons() {
    let (app, request, id, card) = stage_one().await;
    let data = card["refresh"]["action"]["data"].clone();
    for key in ["lee", "alex"] {
        let (status, body) = app
            .raw_invoke_in(
                key,
                "miriam",
                &format!("f:refresh-by-{key}"),
                &id,
                execute("refresh", data.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["type"], "application/vnd.microsoft.card.adaptive");
        let shown = &body["value"];
        assert!(verbs(shown).is_empty(), "{key}: {shown}");
        assert!(shown.get("refresh").is_none(), "{key}: {shown}");
        assert!(
            card_text(shown).contains("You are not one of them"),
            "{key}: {shown}"
        );
    }
    assert_eq!(stage(&app, &request, 0).1, "NotReviewed");
}

#[tokio::test]
async fn the_emulated_connector_refuses_a_refresh_for_more_than_60_users() {
    use crate::teams_support::{connector_post, installed};
    let app = spawn_teams_app().await;
    let conversation = installed(&app.sandbox, "alex").await;
    let card = |n: usize| {
        let users: Vec<String> = (0..n).map(|i| format!("29:user-{i}")).collect();
        json!({ "type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": { "type": "AdaptiveCard", "version": "1.5", "body": [],
                "refresh": { "action": { "type": "Action.Execute", "verb": "refresh" }, "userIds": users } } }] })
        .to_string()
    };
    let path = format!("/conversations/{conversation}/activities");
    let refused = connector_post(&app.sandbox, &path, &card(61)).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert!(body.to_string().contains("at most 60"), "{body}");
    let sent = connector_post(&app.sandbox, &path, &card(60)).await;
    assert_eq!(sent.status(), 201);
}
