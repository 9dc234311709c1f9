//! IAM-service mode against a wiremock IAM.

mod common;

use std::{sync::Arc, time::Duration};

use axum::{Json, Router, routing::get};
use common::{assert_401, bearer, call};
use erp_auth::{
    AuthLayer, Authenticated, Authenticator,
    iam::{IamConfig, IamVerifier, require_permission},
    resolve::UserResolver,
};
use erp_core::{NewTenant, TenantRepository, UserRepository, memory::MemoryStore};
use http::StatusCode;
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

struct Iam;

impl Respond for Iam {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match (request.url.path(), auth) {
            ("/auth/userinfo", "Bearer good-token") => ResponseTemplate::new(200).set_body_json(json!({
                "id": "iam-42", "username": "kim", "email": "kim@corp.example", "name": "김민준",
                "roles": ["accountant", "not a role!"]
            })),
            ("/auth/userinfo", "Bearer wrapped-token") => ResponseTemplate::new(200).set_body_json(json!({
                "success": true, "data": {"sub": "iam-7", "preferred_username": "lee"}
            })),
            ("/auth/userinfo", "Bearer garbage-body") => ResponseTemplate::new(200).set_body_string("<html>"),
            ("/auth/check-permission", "Bearer good-token") => {
                let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
                ResponseTemplate::new(200).set_body_json(json!({"allowed": body["permission"] == "books:read"}))
            }
            _ => ResponseTemplate::new(401),
        }
    }
}

async fn setup(iam_uri: &str) -> (Router, MemoryStore, erp_core::TenantId) {
    let store = MemoryStore::new();
    let tenant = TenantRepository::create(&store, NewTenant::new("acme", "Acme"))
        .await
        .unwrap()
        .id;
    let iam = IamVerifier::new(
        IamConfig::new(iam_uri)
            .unwrap()
            .with_timeout(Duration::from_millis(500))
            .with_cache_ttls(Duration::from_secs(60), Duration::from_secs(10)),
    )
    .unwrap();
    let auth = Authenticator::builder(
        UserResolver::new(Arc::new(store.clone()), Arc::new(store.clone()))
            .with_default_tenant(Some(tenant)),
    )
    .with_iam(iam.clone())
    .build()
    .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|Authenticated(p): Authenticated| async move { Json(p) }),
        )
        .route(
            "/books",
            get(|| async { "books" }).layer(require_permission(iam.clone(), "books:read")),
        )
        .route(
            "/payroll",
            get(|| async { "payroll" }).layer(require_permission(iam, "payroll:write")),
        )
        .layer(AuthLayer::new(auth));
    (app, store, tenant)
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_users_are_resolved_cached_and_checked_for_permissions() {
    let server = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(Iam)
        .mount(&server)
        .await;
    let (app, store, tenant) = setup(&server.uri()).await;

    let reply = bearer(&app, "good-token").await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["auth_method"], "iam_service");
    assert_eq!(reply.body["display_name"], "김민준");
    assert_eq!(
        reply.body["roles"],
        json!(["accountant"]),
        "invalid role names are dropped"
    );
    let user = store
        .by_external_id(tenant, "iam:iam-42")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.username, "kim");

    let before = server.received_requests().await.unwrap().len();
    for _ in 0..5 {
        assert_eq!(bearer(&app, "good-token").await.status, StatusCode::OK);
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        before,
        "answers are cached"
    );

    assert_eq!(bearer(&app, "wrapped-token").await.body["username"], "lee");
    assert_401(&bearer(&app, "bad-token").await, "TOKEN_INVALID");
    let before = server.received_requests().await.unwrap().len();
    assert_401(&bearer(&app, "bad-token").await, "TOKEN_INVALID");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        before,
        "refusals are cached too"
    );
    assert_eq!(
        bearer(&app, "garbage-body").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let auth = "Bearer good-token";
    assert_eq!(
        call(&app, "/books", Some(auth)).await.status,
        StatusCode::OK
    );
    let denied = call(&app, "/payroll", Some(auth)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["code"], "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn iam_down_is_503_never_an_open_door() {
    let server = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let (app, _, _) = setup(&server.uri()).await;
    let reply = bearer(&app, "good-token").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.body["code"], "UPSTREAM_UNAVAILABLE");

    // A hanging IAM is cut off at the timeout.
    let slow = MockServer::start().await;
    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&slow)
        .await;
    let (app, _, _) = setup(&slow.uri()).await;
    let started = std::time::Instant::now();
    assert_eq!(
        bearer(&app, "good-token").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(server);
}
