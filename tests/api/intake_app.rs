//! The intake endpoints as the bot serves them.

use secrecy::SecretString;
use serde_json::json;

use crate::helpers::spawn_app_with;
use stagegate_lab::wiring::BotWiring;

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
    let app = spawn_app_with(|s| s.intake = Default::default()).await;
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

#[test]
fn intake_settings_come_from_the_environment_with_secret_files() {
    use std::io::Write;

    use secrecy::ExposeSecret;

    let mut secret_file = tempfile::NamedTempFile::new().unwrap();
    writeln!(secret_file, "{SECRET}").unwrap();
    let path = secret_file.path().to_str().unwrap().to_owned();
    let vars: Vec<(String, String)> = [
        ("STAGEGATE_ENTRA__TENANT_ID", "t"),
        ("STAGEGATE_ENTRA__CLIENT_ID", "c"),
        ("STAGEGATE_ENTRA__CLIENT_SECRET", "s3cret"),
        (
            "STAGEGATE_IDENTITY__VAULT_KEYS__K1",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("STAGEGATE_IDENTITY__VAULT_PRIMARY_KEY", "k1"),
        ("STAGEGATE_INTAKE__CLIENT_STATE_FILE", path.as_str()),
        ("STAGEGATE_INTAKE__CALLOUT_SECRET", SECRET),
        (
            "STAGEGATE_INTAKE__PRIVILEGED_GROUPS",
            "0e7a0010-0000-4000-8000-000000000010, 0e7a0011-0000-4000-8000-000000000011",
        ),
        ("STAGEGATE_INTAKE__POLL_INTERVAL_SECONDS", "15"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = stagegate::config::Settings::load_from(None, vars).unwrap();
    let intake = &settings.intake;
    assert_eq!(
        intake.client_state.as_ref().unwrap().expose_secret(),
        SECRET
    );
    assert_eq!(
        intake.callout_secret.as_ref().unwrap().expose_secret(),
        SECRET
    );
    assert_eq!(intake.privileged_groups.len(), 2);
    assert_eq!(intake.poll_interval_seconds, 15);
    assert_eq!(intake.renewal_margin_minutes, 1440);
    assert!(
        !format!("{settings:?}").contains(SECRET),
        "secrets stay out of Debug"
    );
    // Settings built in code survive the round trip through the environment layer.
    let again = settings.with_env_overrides(Vec::new()).unwrap();
    assert_eq!(again.intake.privileged_groups.len(), 2);
    assert!(again.intake.client_state.is_some());
}
