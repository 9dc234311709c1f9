//! Two server instances on one PostgreSQL database: a logout on one is refused by the
//! other within a second, for a local session and for an Entra ID access token.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use erp_server::{AppState, config::ServerConfig, router, testkit::call};
use http::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_logout_on_one_instance_is_refused_by_the_other() {
    let base = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("erp_s_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    // The schema goes into search_path through libpq's `options`.
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let instance = || async {
        let env: HashMap<&str, String> = HashMap::from([("DATABASE_URL", url.clone())]);
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.embedded_database = true; // seed the development users
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
        router(AppState::build(config).await.unwrap())
    };
    let a = instance().await;
    let b = instance().await;
    // Give both LISTEN connections a moment to be up.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, login, _) = call(
        &a,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "admin", "password": "admin123"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&a, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&b, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK,
        "B has it cached now"
    );

    let (status, _, _) = call(&a, "POST", "/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    loop {
        let (status, body, _) = call(&b, "GET", "/auth/me", Some(&token), None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "SESSION_REVOKED");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts the token 1 s after the logout on A"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("logout on A refused by B after {:?}", started.elapsed());
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// Sign-out of an Entra ID token (no session of ours): A records its `uti`, B refuses
/// the token through the same NOTIFY feed as session revocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_entra_sign_out_on_one_instance_is_refused_by_the_other() {
    let base = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("erp_s_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let tenant = uuid::Uuid::new_v4().to_string();
    let client_id = uuid::Uuid::new_v4().to_string();
    let fake = erp_auth::testkit::FakeAzureAd::start(&tenant, &client_id).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = || async {
        let env: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", url.clone()),
            ("AZURE_CLIENT_ID", client_id.clone()),
            ("AZURE_TENANT_ID", tenant.clone()),
            ("AZURE_AUTHORITY_HOST", fake.authority_host()),
            ("AZURE_AUTO_PROVISION", "true".into()),
        ]);
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
        router(AppState::build(config).await.unwrap())
    };
    let a = instance().await;
    let b = instance().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let uti = format!("uti-{}", uuid::Uuid::new_v4().simple());
    let token = fake.token().claim("uti", uti.as_str()).build();
    let other = fake
        .token()
        .claim("uti", format!("uti-{}", uuid::Uuid::new_v4().simple()))
        .build();
    for app in [&a, &b] {
        let (status, me, _) = call(app, "GET", "/auth/me", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }

    let (status, body, _) = call(&a, "POST", "/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["revoked"], true);
    assert_eq!(
        call(&a, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::UNAUTHORIZED,
        "refused at once where it was signed out"
    );
    let started = Instant::now();
    loop {
        let (status, body, _) = call(&b, "GET", "/auth/me", Some(&token), None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "SESSION_REVOKED");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts the token 1 s after the sign-out on A"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "Entra sign-out on A refused by B after {:?}",
        started.elapsed()
    );
    // Only that token: the same user's other token still works on both.
    for app in [&a, &b] {
        assert_eq!(
            call(app, "GET", "/auth/me", Some(&other), None).await.0,
            StatusCode::OK
        );
    }
    drop((a, b));
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
