//! A sign-in belongs to the chat account that asked for it and to the
//! browser that opened its link (security review, finding 1): a forwarded
//! link and a forwarded Entra sign-in address both end with nothing linked,
//! the chat account told and the security channel alerted.

use stagegate::chat::identity::ChatIdentity;
use stagegate_sandbox::client::{SignInBrowser, SimClient, slack_text};

use crate::engine_support::{sign_in_url, spawn_engine_app};
use crate::slack_app_support::{SlackApp, spawn_slack_app};

fn slack_identity(app: &SlackApp, key: &str) -> ChatIdentity {
    ChatIdentity {
        platform: "slack".into(),
        workspace: app.slack["teamId"].as_str().unwrap().to_owned(),
        user: app.user_id(key),
    }
}

/// Alex asks for a sign-in link in Slack: the link.
async fn alex_link(app: &SlackApp) -> String {
    app.command("alex", "/stagegate", "link").await;
    app.sign_in_link("alex").await
}

async fn alerts(app: &SlackApp) -> Vec<String> {
    app.settle().await;
    app.security().await.iter().map(slack_text).collect()
}

async fn dm_texts(app: &SlackApp, key: &str) -> Vec<String> {
    app.settle().await;
    app.dm(key).await.iter().map(slack_text).collect()
}

#[tokio::test]
async fn a_forwarded_slack_link_signed_in_by_someone_else_links_nothing() {
    let app = spawn_slack_app().await;
    let link = alex_link(&app).await;
    // Alex forwards the link; Miriam opens it in her browser and signs in.
    let client = SimClient::new(&app.sandbox.base_url);
    let mut miriam = SignInBrowser::new(&client);
    let (page, authorize) = miriam.open_link(&link).await.unwrap();
    assert!(page.contains("Slack user @alex"), "{page}");
    let (callback, _) = miriam.sign_in_at_entra(&authorize, "miriam").await.unwrap();
    let (status, body) = miriam.finish(&callback).await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("nothing was linked"), "{body}");
    assert!(body.contains("Miriam Graham"), "{body}");

    let alex = slack_identity(&app, "alex");
    let store = app.engine.store();
    assert!(store.link(&alex).await.unwrap().is_none(), "nothing linked");
    assert_eq!(
        store.person(&alex).await.unwrap(),
        None,
        "no route to anyone"
    );
    let miriam_id = app.sandbox.persona_id("miriam");
    assert!(
        store
            .identities_of(&miriam_id.parse().unwrap())
            .await
            .unwrap()
            .is_empty(),
        "Miriam is reachable through no chat account"
    );
    let alerts = alerts(&app).await;
    assert!(
        alerts.iter().any(|a| a.contains("Sign-in refused")
            && a.contains("Slack user @alex")
            && a.contains("Miriam Graham")),
        "{alerts:?}"
    );
    let told = dm_texts(&app, "alex").await;
    assert!(
        told.iter()
            .any(|t| t.contains("Someone signed in as Miriam Graham")
                && t.contains("nothing was linked")),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_forwarded_entra_sign_in_address_links_nothing() {
    let app = spawn_slack_app().await;
    let link = alex_link(&app).await;
    // Alex opens the link himself and forwards only Entra's address.
    let client = SimClient::new(&app.sandbox.base_url);
    let mut alex_browser = SignInBrowser::new(&client);
    let (_, authorize) = alex_browser.open_link(&link).await.unwrap();
    let mut miriam = SignInBrowser::new(&client);
    let (callback, _) = miriam.sign_in_at_entra(&authorize, "miriam").await.unwrap();
    let (status, body) = miriam.finish(&callback).await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("another browser"), "{body}");
    // The flow is spent: the address is worth nothing to Alex either.
    let (status, _) = alex_browser.finish(&callback).await.unwrap();
    assert_eq!(status, 400);

    let alex = slack_identity(&app, "alex");
    assert!(app.engine.store().link(&alex).await.unwrap().is_none());
    let alerts = alerts(&app).await;
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("completed in another browser") && a.contains("Slack user @alex")),
        "{alerts:?}"
    );
    let told = dm_texts(&app, "alex").await;
    assert!(
        told.iter().any(|t| t.contains("another browser")),
        "{told:?}"
    );
}

#[tokio::test]
async fn opening_a_link_does_not_spend_it_and_its_page_names_the_chat_account() {
    let app = spawn_slack_app().await;
    let link = alex_link(&app).await;
    let http = reqwest::Client::new();
    for _ in 0..2 {
        // A mail or chat link scanner fetches the page.
        let page = http.get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["referrer-policy"], "same-origin");
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(html.contains("Slack user @alex (Alex Wilber)"), "{html}");
    }
    app.sign_in(&link, "alex").await;
    let alex = slack_identity(&app, "alex");
    assert!(app.engine.store().link(&alex).await.unwrap().is_some());
    // Spent now: the page says so.
    let again = http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn the_start_form_is_refused_from_another_site() {
    let app = spawn_slack_app().await;
    let link = alex_link(&app).await;
    let token = link.split("t=").nth(1).unwrap().to_owned();
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/auth/start", app.address))
        .header("origin", "https://evil.example")
        .form(&[("t", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    // The link was not spent.
    app.sign_in(&link, "alex").await;
}

#[tokio::test]
async fn a_new_link_is_announced_and_a_second_chat_account_named() {
    let app = spawn_slack_app().await;
    let alex_id = app.sandbox.persona_id("alex");
    let link = alex_link(&app).await;
    app.sign_in(&link, "alex").await;
    let first = alerts(&app).await;
    assert_eq!(
        first
            .iter()
            .filter(|a| a.contains("Chat account linked"))
            .count(),
        1,
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .any(|a| a.contains("Slack user @alex (Alex Wilber)")
                && a.contains("now acts as Alex Wilber")),
        "{first:?}"
    );
    // Signing in again as the same account announces nothing new.
    let link = alex_link(&app).await;
    app.sign_in(&link, "alex").await;
    assert_eq!(alerts(&app).await.len(), first.len());

    // Alex's Teams account is linked too: the next Slack account of his is
    // announced with the other one named.
    let teams = ChatIdentity {
        platform: "teams".into(),
        workspace: app.sandbox.state.tenant_id(),
        user: alex_id.clone(),
    };
    let store = app.engine.store();
    let row = store
        .link(&slack_identity(&app, "alex"))
        .await
        .unwrap()
        .unwrap();
    store
        .upsert_link(
            &stagegate::store::links::LinkRow {
                identity: teams.clone(),
                ..row
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    store
        .upsert_person(
            &teams,
            &alex_id.parse().unwrap(),
            "Alex Wilber",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    app.command("alex", "/stagegate", "unlink").await;
    let link = alex_link(&app).await;
    app.sign_in(&link, "alex").await;
    let all = alerts(&app).await;
    assert!(
        all.iter()
            .any(|a| a.contains("Another chat account linked")
                && a.contains("Teams user Alex Wilber")),
        "{all:?}"
    );
}

#[tokio::test]
async fn unlink_removes_every_route_to_the_person() {
    let app = spawn_slack_app().await;
    let link = alex_link(&app).await;
    app.sign_in(&link, "alex").await;
    let alex = slack_identity(&app, "alex");
    let alex_id = app.sandbox.persona_id("alex");
    let store = app.engine.store();
    assert_eq!(
        store
            .identities_of(&alex_id.parse().unwrap())
            .await
            .unwrap(),
        vec![alex.clone()]
    );
    app.command("alex", "/stagegate", "unlink").await;
    app.settle().await;
    assert!(store.link(&alex).await.unwrap().is_none());
    assert!(
        store
            .identities_of(&alex_id.parse().unwrap())
            .await
            .unwrap()
            .is_empty(),
        "no card can reach Alex's Slack account any more"
    );
}

#[tokio::test]
async fn entra_error_text_is_not_shown_on_the_callback_page() {
    let app = spawn_slack_app().await;
    let page = reqwest::get(format!(
        "{}/auth/callback?error=access_denied&error_description=Call+our+helpdesk+on+%2B1+555+0100",
        app.address
    ))
    .await
    .unwrap();
    assert_eq!(page.status(), 400);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("555") && !html.contains("helpdesk"),
        "{html}"
    );
    assert!(html.contains("cancelled"), "{html}");
}

#[tokio::test]
async fn a_teams_link_signed_in_as_someone_else_is_refused_and_alerted() {
    let app = spawn_engine_app().await;
    let prompt = app.say("alex", "link").await;
    let link = sign_in_url(&prompt);
    let client = SimClient::new(&app.sandbox.base_url);
    let mut browser = SignInBrowser::new(&client);
    let (page, authorize) = browser.open_link(&link).await.unwrap();
    assert!(page.contains("Teams user alex"), "{page}");
    let (callback, _) = browser
        .sign_in_at_entra(&authorize, "miriam")
        .await
        .unwrap();
    let (status, body) = browser.finish(&callback).await.unwrap();
    assert_eq!(status, 403, "{body}");
    app.settle().await;
    assert!(
        app.engine
            .store()
            .link(&app.persona("alex"))
            .await
            .unwrap()
            .is_none()
    );
    let alerts: Vec<String> = app.security().iter().map(|m| m.text()).collect();
    assert!(
        alerts
            .iter()
            .any(|a| a.contains("Sign-in refused") && a.contains("Miriam Graham")),
        "{alerts:?}"
    );
}
