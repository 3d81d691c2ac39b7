use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn readyz_reports_migrated_database() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn database_file_is_created_with_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-new.db");
    assert!(!path.exists());
    use stagegate::store::OpsStore;
    let store = stagegate::store::SqliteStore::open(&path, 1).await.unwrap();
    assert!(path.exists());
    store.readiness().await.unwrap();
    store
        .audit("test", "probe", "-", "ok", &serde_json::json!({}))
        .await
        .unwrap();
    // The audit log is append-only.
    let err = sqlx::query("DELETE FROM audit_log")
        .execute(store.pool())
        .await;
    assert!(err.is_err());
}

/// A port another program holds: the bot says so and what to do, and so
/// does the sandbox.
#[tokio::test]
async fn a_busy_port_is_explained_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();

    let sandbox = crate::helpers::spawn_sandbox().await;
    let db = tempfile::tempdir().unwrap();
    let settings = stagegate_lab::wiring::BotWiring::bot_settings(
        &sandbox.state,
        address,
        db.path().join("stagegate.db"),
    );
    let error = stagegate::app::Application::build(settings)
        .await
        .err()
        .expect("the port is taken")
        .to_string();
    assert!(
        error.contains(&format!("cannot listen on {address}")),
        "{error}"
    );
    assert!(error.contains("port 0 picks a free one"), "{error}");

    let error = stagegate_sandbox::Sandbox::build(stagegate_sandbox::SandboxOptions {
        bind: address,
        tenant: None,
        callout_url: None,
        callout_secret: None,
        secrets: None,
    })
    .await
    .err()
    .expect("the port is taken")
    .to_string();
    assert!(
        error.contains("--sim-port 0 --port 0 pick free ones"),
        "{error}"
    );
}
