//! `GET /health` through the router, as a client sees it.

use std::time::Duration;

use axum::{body::Body, http::Request};
use erp_core::sql::{Database, DatabaseConfig, PgConfig, PgExecutor, SqliteConfig};
use erp_server::{AppState, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get_health(db: Database) -> (u16, serde_json::Value) {
    let response = router(AppState { db })
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn sqlite_health_reports_ok_with_latency() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(DatabaseConfig::Sqlite(SqliteConfig::file(
        dir.path().join("erp.sqlite"),
    )))
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let (status, body) = get_health(db).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"]["backend"], "sqlite");
    assert!(body["checks"]["database"]["latency_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn postgres_health_reports_ok() {
    let url = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let db =
        Database::connect(DatabaseConfig::from_env_value("ERP_TEST_DATABASE_URL", &url).unwrap())
            .await
            .unwrap();
    let (status, body) = get_health(db).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"]["backend"], "postgres");
}

#[tokio::test]
async fn postgres_down_is_503_without_secrets() {
    let cfg = PgConfig::from_url("postgres://erp:s3cret@127.0.0.1:1/erp")
        .unwrap()
        .with_connect_timeout(Duration::from_millis(500));
    let db = Database::Postgres(PgExecutor::lazy(cfg).unwrap());
    let (status, body) = get_health(db).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "down");
    assert_eq!(body["checks"]["database"]["status"], "down");
    assert!(!body.to_string().contains("s3cret"), "{body}");
}
