//! The intake endpoints as the bot serves them.

use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

const SECRET: &str = "an-intake-test-secret-of-forty-characters";

#[tokio::test]
async fn the_bot_serves_the_intake_endpoints_when_configured() {
    let app = spawn_app_with(|s| {
        s.intake.client_state = Some(SecretString::from(SECRET));
        s.intake.callout_secret = Some(SecretString::from(SECRET));
    })
    .await;
    let response = app
        .http
        .post(format!(
            "{}/api/graph/notifications?validationToken=abc%20def",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "abc def");

    let wrong = json!({ "value": [{ "clientState": "nope", "subscriptionId": "x" }] });
    let response = app
        .http
        .post(format!("{}/api/graph/notifications", app.address))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let response = app
        .http
        .post(format!("{}/api/graph/callouts", app.address))
        .header("X-Stagegate-Relay-Secret", SECRET)
        .json(&json!({ "data": {
            "accessPackageAssignmentRequestId": uuid::Uuid::new_v4().to_string(),
            "stage": "assignmentRequestCreated",
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn unconfigured_intake_endpoints_are_not_served() {
    let app = spawn_app().await;
    for path in [
        "/api/graph/notifications",
        "/api/graph/lifecycle",
        "/api/graph/callouts",
    ] {
        let response = app
            .http
            .post(format!("{}{path}", app.address))
            .json(&json!({ "value": [] }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_bad_intake_setting_stops_the_bot_from_starting() {
    let sandbox = crate::helpers::spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let mut settings = sandbox
        .state
        .bot_settings(crate::helpers::loopback0(), db.path().join("stagegate.db"));
    settings.intake.privileged_groups = vec!["GRP-ELIG-GlobalAdmin".into()];
    settings.intake.client_state = Some(SecretString::from(SECRET));
    let error = match stagegate::app::Application::build(settings).await {
        Ok(_) => panic!("a group name instead of an object id must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("intake.privileged_groups[0]"), "{error}");
}
