//! Card clicks (`invoke` `adaptiveCard/action`) and messages through the
//! Teams adapter: the invoke response contract, the bot's own refusals,
//! who the clicker is, double clicks, replays, and concurrent approvers.

use serde_json::{Value, json};

use crate::teams_adapter_support::{
    TeamsApp, card_text, execute, spawn_teams_app, stage_one, verbs,
};

/// The card of activity `id` as `key` sees it now.
async fn card_of(app: &TeamsApp, key: &str, id: &str) -> Value {
    let cards = app.cards(key).await;
    cards
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, card)| card)
        .unwrap_or_else(|| panic!("no card {id} for {key}"))
}

fn stage_result(app: &TeamsApp, request: &str, stage: usize) -> (String, Option<String>) {
    let world = app.sandbox.state.world();
    let s = &world.requests[request].stages[stage];
    (s.review_result.clone(), s.reviewed_by.clone())
}

#[tokio::test]
async fn approve_click_answers_with_a_card_then_every_card_shows_the_decision() {
    let (app, request, id, _) = stage_one().await;
    let clicked = app
        .click(
            "miriam",
            &id,
            "approve",
            json!({ "justification": "ok for TICKET-7" }),
        )
        .await;
    // HTTP status = statusCode; body {statusCode, type, value: card 1.5}.
    assert_eq!(clicked["bot"]["status"], 200);
    let body = &clicked["bot"]["body"];
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["type"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(body["value"]["type"], "AdaptiveCard");
    assert_eq!(body["value"]["version"], "1.5");
    // The answer waited for the decision: Graph has it already.
    assert!(!body.to_string().contains("Still recording"), "{body}");
    let miriam = app.sandbox.persona_id("miriam");
    assert_eq!(
        stage_result(&app, &request, 0),
        ("Approved".into(), Some(miriam))
    );
    // The base card was updated for everyone: decided, no buttons.
    let card = card_of(&app, "miriam", &id).await;
    assert!(verbs(&card).is_empty(), "{card}");
    assert!(
        card_text(&card).contains("Approved by Miriam Graham"),
        "{card}"
    );
    // Then the outbox (the card's one writer) puts the click's outcome on
    // top of the decided card.
    app.settle().await;
    let card = card_of(&app, "miriam", &id).await;
    assert!(verbs(&card).is_empty(), "{card}");
    assert!(
        card_text(&card).contains("Recorded: you approved stage 1"),
        "{card}"
    );
}

#[tokio::test]
async fn a_slow_decision_is_not_shown_as_taken() {
    let (app, request, id, _) = stage_one().await;
    crate::helpers::delay_graph_patches(&app.sandbox, 8000).await;
    let (status, clicked) = app
        .drive(
            "/personas/miriam/invoke",
            json!({ "activityId": id, "verb": "approve",
                    "inputs": { "justification": "ok for TICKET-7" } }),
        )
        .await;
    // Answered inside Teams' 15 s, saying it is not recorded yet, with the
    // buttons still there (deciding again stays possible).
    assert_eq!(status, 200, "{clicked}");
    assert_eq!(clicked["bot"]["status"], 200, "{clicked}");
    let card = &clicked["bot"]["body"]["value"];
    assert!(card.to_string().contains("Still recording"), "{card}");
    assert!(verbs(card).contains(&"approve".to_owned()), "{card}");
    assert_eq!(stage_result(&app, &request, 0).0, "NotReviewed");
    // Graph records it once the slow answer completes.
    let decided = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let result = stage_result(&app, &request, 0);
            if result.0 != "NotReviewed" {
                return result;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("Graph records the decision");
    assert_eq!(
        decided,
        ("Approved".into(), Some(app.sandbox.persona_id("miriam")))
    );
}

#[tokio::test]
async fn blank_justification_is_answered_with_the_card_and_the_reason_on_top() {
    let (app, request, id, _) = stage_one().await;
    let clicked = app
        .click(
            "miriam",
            &id,
            "approve",
            json!({ "justification": "  \n " }),
        )
        .await;
    // A refusal a person must read is a 200 with a card, not a 4xx the
    // client shows as "Request failed with status code 400".
    assert_eq!(clicked["bot"]["status"], 200, "{clicked}");
    let body = &clicked["bot"]["body"];
    assert_eq!(body["statusCode"], 200);
    assert_eq!(body["type"], "application/vnd.microsoft.card.adaptive");
    let card = &body["value"];
    assert!(
        card_text(card).contains("justification is required"),
        "{card}"
    );
    // The card as it was under the reason: buttons and input kept.
    assert_eq!(verbs(card), ["approve", "deny"], "{card}");
    assert!(card.to_string().contains("\"Input.Text\""), "{card}");
    assert_eq!(stage_result(&app, &request, 0).1, None, "nothing decided");
    let (_, card) = app.live_card("miriam", &["approve", "deny"]).await;
    assert!(card_text(&card).contains("TICKET-7"));
}

#[tokio::test]
async fn a_malformed_click_is_still_a_400() {
    let (app, _, id, _) = stage_one().await;
    let (status, body) = app
        .raw_invoke("miriam", "f:bad-1", &id, execute("launch", json!({})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["type"], "application/vnd.microsoft.error");
    assert!(!body["value"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_click_is_for_the_clicker_alone_and_leaves_the_card_live() {
    let (app, request, id, card) = stage_one().await;
    // Alex presses Approve on his own request's card, in a conversation
    // the approver sees too (as in the Agents Playground).
    let mut data = card["actions"][0]["data"].as_object().unwrap().clone();
    data.insert("justification".into(), json!("mine, trust me"));
    let (status, body) = app
        .raw_invoke_in(
            "alex",
            "miriam",
            "f:own-1",
            &id,
            execute("approve", Value::Object(data)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let answer = &body["value"];
    assert!(
        card_text(answer).contains("your own request"),
        "the refusal is Alex's answer: {answer}"
    );
    assert_eq!(verbs(answer), ["approve", "deny"], "{answer}");
    app.settle().await;
    // The shared card is untouched: Miriam still has her buttons.
    let shared = card_of(&app, "miriam", &id).await;
    assert_eq!(verbs(&shared), ["approve", "deny"], "{shared}");
    assert!(!card_text(&shared).contains("own request"), "{shared}");
    assert_eq!(stage_result(&app, &request, 0).1, None, "nothing decided");
    // And Miriam approves as usual.
    app.click(
        "miriam",
        &id,
        "approve",
        json!({ "justification": "ok for TICKET-7" }),
    )
    .await;
    assert_eq!(
        stage_result(&app, &request, 0),
        ("Approved".into(), Some(app.sandbox.persona_id("miriam")))
    );
}

#[tokio::test]
async fn a_non_approver_cannot_decide_even_with_the_card_data() {
    let (app, request, id, card) = stage_one().await;
    app.link("megan").await;
    // Megan replays Miriam's button data in an invoke of her own: the
    // clicker is Megan (from.aadObjectId), whatever the data says.
    let data = card["actions"][0]["data"].clone();
    let mut data = data.as_object().unwrap().clone();
    data.insert("justification".into(), json!("let me in"));
    let (status, body) = app
        .raw_invoke(
            "megan",
            "f:megan-1",
            &id,
            execute("approve", Value::Object(data)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.settle().await;
    assert_eq!(stage_result(&app, &request, 0).1, None, "Graph unchanged");
    // Miriam's card is still live.
    app.live_card("miriam", &["approve", "deny"]).await;
}

#[tokio::test]
async fn a_double_click_and_a_replayed_activity_decide_once() {
    let (app, request, id, card) = stage_one().await;
    let mut data = card["actions"][0]["data"].as_object().unwrap().clone();
    data.insert("justification".into(), json!("fine"));
    let value = execute("approve", Value::Object(data));
    // The same activity twice (a replay), and a second click at once.
    let (first, replay, second) = tokio::join!(
        app.raw_invoke("miriam", "f:click-1", &id, value.clone()),
        app.raw_invoke("miriam", "f:click-1", &id, value.clone()),
        app.raw_invoke("miriam", "f:click-2", &id, value.clone()),
    );
    for (status, _) in [&first, &replay, &second] {
        assert_eq!(*status, 200);
    }
    let kinds: Vec<&str> = [&first, &replay]
        .iter()
        .map(|(_, b)| b["type"].as_str().unwrap_or_default())
        .collect();
    assert!(
        kinds.contains(&"application/vnd.microsoft.activity.message"),
        "one of the two identical activities is a replay: {kinds:?}"
    );
    app.settle().await;
    let miriam = app.sandbox.persona_id("miriam");
    assert_eq!(
        stage_result(&app, &request, 0),
        ("Approved".into(), Some(miriam))
    );
    let decisions = app
        .engine
        .store()
        .count_decisions(&request.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(decisions, 1, "one decision recorded and relayed");
    let card = card_of(&app, "miriam", &id).await;
    assert!(verbs(&card).is_empty(), "{card}");
}

#[tokio::test]
async fn two_approvers_clicking_at_once_make_exactly_one_decision() {
    let app = spawn_teams_app().await;
    for key in ["alex", "lee", "isaiah"] {
        app.link(key).await;
    }
    app.say("alex", "request helpdesk-admin TICKET-9 reset passwords")
        .await;
    let (lee_card, _) = app.live_card("lee", &["approve", "deny"]).await;
    let (isaiah_card, _) = app.live_card("isaiah", &["approve", "deny"]).await;
    let (a, b) = tokio::join!(
        app.drive(
            "/personas/lee/invoke",
            json!({ "activityId": lee_card, "verb": "approve", "inputs": { "justification": "lee ok" } }),
        ),
        app.drive(
            "/personas/isaiah/invoke",
            json!({ "activityId": isaiah_card, "verb": "deny", "inputs": { "justification": "isaiah no" } }),
        ),
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    app.settle().await;
    let request = {
        let alex = app.sandbox.persona_id("alex");
        let world = app.sandbox.state.world();
        world
            .requests
            .values()
            .find(|r| r.target_id == alex)
            .unwrap()
            .id
            .clone()
    };
    let (result, by) = stage_result(&app, &request, 0);
    let lee = app.sandbox.persona_id("lee");
    let isaiah = app.sandbox.persona_id("isaiah");
    assert!(
        (result == "Approved" && by.as_deref() == Some(lee.as_str()))
            || (result == "Denied" && by.as_deref() == Some(isaiah.as_str())),
        "{result} by {by:?}"
    );
    assert_eq!(
        app.engine
            .store()
            .count_decisions(&request.parse().unwrap())
            .await
            .unwrap(),
        1
    );
    // Both see the outcome on their card; no button is left.
    let outcome = if result == "Approved" {
        "Approved by"
    } else {
        "Denied by"
    };
    for (key, id) in [("lee", &lee_card), ("isaiah", &isaiah_card)] {
        let (_, card) = app
            .cards(key)
            .await
            .into_iter()
            .find(|(i, _)| i == id)
            .unwrap();
        assert!(verbs(&card).is_empty(), "{key}: {card}");
        assert!(card_text(&card).contains(outcome), "{key}: {card}");
    }
}

#[tokio::test]
async fn unknown_invokes_get_501_and_bad_data_a_400_error() {
    let (app, request, id, _) = stage_one().await;
    let unknown = json!({ "name": "composeExtension/query", "value": {} });
    let (status, _) = app.raw_invoke("miriam", "f:u-1", &id, unknown).await;
    assert_eq!(status, 501);
    let bad = execute(
        "approve",
        json!({ "request": "not-a-guid", "justification": "x" }),
    );
    let (status, body) = app.raw_invoke("miriam", "f:u-2", &id, bad).await;
    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["type"], "application/vnd.microsoft.error");
    let verb = execute(
        "delete",
        json!({ "request": request, "justification": "x" }),
    );
    let (status, _) = app.raw_invoke("miriam", "f:u-3", &id, verb).await;
    assert_eq!(status, 400);
    assert_eq!(stage_result(&app, &request, 0).1, None);
}

#[tokio::test]
async fn unknown_text_gets_help_and_unauthenticated_posts_get_401() {
    let app = spawn_teams_app().await;
    app.install("alex").await;
    app.say("alex", "what can you do").await;
    let cards = app.cards("alex").await;
    let last = card_text(&cards.last().expect("a reply").1);
    assert!(last.to_lowercase().contains("request"), "{last}");
    let refused = app
        .sandbox
        .http
        .post(format!("{}/api/teams/messages", app.address))
        .json(&json!({ "type": "message", "text": "help", "serviceUrl": "http://127.0.0.1:1/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

/// Clicks on one card while its updates are still on their way cost one
/// rewrite of the card, not one each: every rewrite spends a Teams
/// operation of the conversation's budget (a chaos run's re-clicks once
/// used up an approver's hourly budget that way).
#[tokio::test]
async fn a_burst_of_clicks_on_one_card_costs_one_rewrite() {
    let (app, request, id, card) = stage_one().await;
    // Nothing else queued; then Teams throttles the next two operations for
    // 2 s each, so the request's updates are still out when the clicks
    // (all at once) have been handled.
    app.settle().await;
    let (status, body) = app
        .drive(
            "/faults",
            json!({ "status": 429, "retryAfter": 2, "count": 2 }),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let mut data = card["actions"][0]["data"].as_object().unwrap().clone();
    data.insert("justification".into(), json!("fine"));
    let value = execute("approve", Value::Object(data));
    let ids: Vec<String> = (0..5).map(|i| format!("f:burst-{i}")).collect();
    let clicks = ids
        .iter()
        .map(|activity| app.raw_invoke("miriam", activity, &id, value.clone()));
    for (status, _) in futures_util::future::join_all(clicks).await {
        assert_eq!(status, 200);
    }
    app.settle().await;
    let miriam = app.sandbox.persona_id("miriam");
    assert_eq!(
        stage_result(&app, &request, 0),
        ("Approved".into(), Some(miriam))
    );
    let versions = {
        let store = app.sandbox.state.teams.store();
        store
            .conversations
            .values()
            .flat_map(|c| c.activities.iter())
            .find(|a| a.id == id)
            .map(|a| a.versions.len())
            .expect("the card")
    };
    // Posted, retired, rewritten once with the outcome.
    assert_eq!(versions, 3, "one rewrite for five clicks");
    let card = card_of(&app, "miriam", &id).await;
    assert!(verbs(&card).is_empty(), "{card}");
}
