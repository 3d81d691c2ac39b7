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
