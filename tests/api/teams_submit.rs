//! The `Action.Submit` fallback of older Teams clients: a click arrives as
//! a signed `message` with the card's data in `value` and is handled like
//! the `Action.Execute` invoke (same authorisation and justification rule).

use serde_json::{Value, json};

use crate::teams_adapter_support::{TeamsApp, card_text, spawn_teams_app, verbs};

/// Alex's Global Admin request, with Miriam linked and holding the card.
async fn requested(app: &TeamsApp) -> String {
    app.link("alex").await;
    app.link("miriam").await;
    app.say(
        "alex",
        "request global-admin TICKET-123 rotate the certificate",
    )
    .await;
    let world = app.sandbox.state.world();
    world
        .requests
        .values()
        .next()
        .map(|r| r.id.clone())
        .expect("a request")
}

async fn submit(app: &TeamsApp, key: &str, id: &str, verb: &str, inputs: Value) -> Value {
    let (status, body) = app
        .drive(
            &format!("/personas/{key}/submit"),
            json!({ "activityId": id, "verb": verb, "inputs": inputs }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bot"]["status"], 200, "{body}");
    app.settle().await;
    body
}

#[tokio::test]
async fn an_approval_submitted_by_an_older_client_is_recorded_as_the_clicker() {
    let app = spawn_teams_app().await;
    let request = requested(&app).await;
    let (card_id, _) = app.live_card("miriam", &["approve", "deny"]).await;

    let sent = submit(
        &app,
        "miriam",
        &card_id,
        "approve",
        json!({ "justification": "Known incident" }),
    )
    .await;
    assert_eq!(sent["activity"]["type"], "message");
    assert!(sent["activity"].get("text").is_none());
    assert_eq!(sent["activity"]["value"]["verb"], "approve");

    let miriam = app.sandbox.persona_id("miriam");
    {
        let world = app.sandbox.state.world();
        let stage = &world.requests[&request].stages[0];
        assert_eq!(stage.review_result, "Approved");
        assert_eq!(stage.reviewed_by.as_deref(), Some(miriam.as_str()));
        assert_eq!(stage.justification, "Known incident");
    }
    let cards = app.cards("miriam").await;
    assert!(
        cards
            .iter()
            .all(|(_, c)| verbs(c).is_empty() || verbs(c) == ["activate"]),
        "no live Approve/Deny left: {cards:?}"
    );
}

#[tokio::test]
async fn a_whitespace_justification_is_refused_by_the_bot() {
    let app = spawn_teams_app().await;
    let request = requested(&app).await;
    let (card_id, _) = app.live_card("miriam", &["approve", "deny"]).await;

    // Clients accept spaces for isRequired; the bot must not.
    submit(
        &app,
        "miriam",
        &card_id,
        "deny",
        json!({ "justification": "   " }),
    )
    .await;
    let world = app.sandbox.state.world();
    assert_eq!(
        world.requests[&request].stages[0].review_result,
        "NotReviewed"
    );
    drop(world);
    let texts: Vec<String> = app
        .cards("miriam")
        .await
        .iter()
        .map(|(_, c)| card_text(c))
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("justification is required")),
        "{texts:?}"
    );
    app.live_card("miriam", &["approve", "deny"]).await;
}

/// The requester submits Approve on his own request (Miriam's card data,
/// in his own chat): the refusal is a message to him alone, and Miriam's
/// card keeps its buttons.
#[tokio::test]
async fn a_refused_submit_is_told_to_the_clicker_alone() {
    use stagegate_sandbox::teams::{bot_id, personal_conversation_id, teams_user_id};
    let app = spawn_teams_app().await;
    let request = requested(&app).await;
    let (card_id, card) = app.live_card("miriam", &["approve", "deny"]).await;
    let mut value = card["actions"][0]["data"].as_object().unwrap().clone();
    value.insert("verb".into(), json!("approve"));
    value.insert("justification".into(), json!("mine, trust me"));
    let (app_id, tenant, alex) = {
        let world = app.sandbox.state.world();
        (
            world.app.client_id.clone(),
            world.tenant_id.clone(),
            world.user_by_key("alex").unwrap().id.clone(),
        )
    };
    let service_url = format!("{}/teams/", app.sandbox.base_url);
    let activity = json!({
        "type": "message", "id": "f:own-submit", "serviceUrl": service_url,
        "channelId": "msteams", "value": value,
        "from": { "id": teams_user_id(&app_id, &alex), "name": "Alex", "aadObjectId": alex },
        "conversation": { "conversationType": "personal", "tenantId": tenant,
                          "id": personal_conversation_id(&app_id, &alex) },
        "recipient": { "id": bot_id(&app_id) },
        "channelData": { "tenant": { "id": tenant } },
        "replyToId": card_id,
    });
    let status = app.post_signed(&activity).await.status();
    assert_eq!(status, 200);
    app.settle().await;
    let told: Vec<String> = app
        .cards("alex")
        .await
        .iter()
        .map(|(_, c)| card_text(c))
        .collect();
    assert!(
        told.iter().any(|t| t.contains("your own request")),
        "{told:?}"
    );
    let (_, still) = app.live_card("miriam", &["approve", "deny"]).await;
    assert!(!card_text(&still).contains("own request"), "{still}");
    let world = app.sandbox.state.world();
    assert_eq!(
        world.requests[&request].stages[0].review_result,
        "NotReviewed"
    );
}
