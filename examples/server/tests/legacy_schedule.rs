//! The scheduled legacy sync (`LEGACY_SYNC_INTERVAL`) on two server instances sharing
//! one PostgreSQL database: while the cluster's sync lock is held neither runs (nor
//! does `POST /api/v1/mssql/sync`, 409); once it is free one of them runs, and `/health`
//! and the metrics show the outcome, counts and lag.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::Router;
use common::{PgSchema, call};
use erp_server::{AppState, config::ServerConfig, router};
use http::StatusCode;
use serde_json::{Value, json};

mod common;

async fn sync_status(app: &Router) -> Value {
    let (_, health) = call(app, "GET", "/health", None, None).await;
    health["checks"]["legacy_sync"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_scheduled_sync_runs_on_one_instance_at_a_time() {
    let pg = PgSchema::new("erp_y").await;
    let (schema, url) = (pg.schema.clone(), pg.url.clone());
    let client = pg.client().await;
    // Another instance is running the sync: this session holds the cluster's lock.
    let key = format!("erp legacy sync {schema}");
    client
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&key])
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let instance = || async {
        let env: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", url.clone()),
            ("LEGACY_SYNC_INTERVAL", "1s".into()),
        ]);
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.embedded_database = true;
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
        router(AppState::build(config).await.unwrap())
    };
    let a = instance().await;
    let b = instance().await;
    let copied = || async {
        client
            .query_one(
                &format!("SELECT count(*) AS n FROM {schema}.legacy_clients"),
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>("n")
    };

    // Both tick (at once, then every second) and skip.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (sa, sb) = (sync_status(&a).await, sync_status(&b).await);
        if sa["skipped"].as_u64() >= Some(2) && sb["skipped"].as_u64() >= Some(2) {
            assert_eq!(
                (&sa["last_run"], &sb["last_run"]),
                (&Value::Null, &Value::Null),
                "{sa} {sb}"
            );
            assert_eq!(sa["interval_s"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "no skipped ticks: {sa} {sb}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(copied().await, 0, "nothing ran while the lock was held");
    let (status, login) = call(
        &a,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "admin", "password": "admin123"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    let (status, body) = call(&a, "POST", "/api/v1/mssql/sync", Some(&token), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT")),
        "{body}"
    );

    // The other instance is done: one of these two runs the next tick.
    client
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key])
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let ran = loop {
        let (sa, sb) = (sync_status(&a).await, sync_status(&b).await);
        if let Some(s) = [sa, sb]
            .into_iter()
            .find(|s| s["last_run"]["outcome"] == "ok")
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no run after the lock was released"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ran["status"], "ok");
    assert!(ran["lag_s"].as_i64().unwrap() >= 0, "{ran}");
    assert!(ran["last_success_at"].is_string(), "{ran}");
    let tables = ran["last_run"]["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3, "{ran}");
    assert_eq!(copied().await, 5);
    let (_, metrics) = call(&a, "GET", "/metrics", None, None).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(
        metrics.contains("erp_legacy_sync_runs_total{outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("erp_legacy_sync_runs_total{outcome=\"skipped\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("erp_legacy_sync_last_success_timestamp_seconds"),
        "{metrics}"
    );

    drop((a, b));
}
