//! A test environment: a fake Entra ID, an in-memory store with one tenant, the layer on
//! an axum router, and helpers to call it.
#![allow(dead_code, unreachable_pub)]

use std::{sync::Arc, time::Duration};

use axum::{Json, Router, body::Body, routing::get};
use erp_auth::{
    AuthLayer, Authenticated, AuthenticatedToken, Authenticator, TokenClaims,
    azure::{AzureAdConfig, AzureAdVerifier},
    local::{KeyRing, LocalJwtConfig, LocalJwtVerifier, LocalTokenIssuer},
    require_any_role, require_any_scope, require_app_role, require_role, require_scope,
    resolve::{RoleMapper, UserResolver},
    testkit::FakeAzureAd,
};
use erp_core::{NewTenant, Tenant, TenantRepository, memory::MemoryStore};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const OTHER_TID: &str = "5d2c7b7e-6a4f-4c1e-9b0e-1f2a3b4c5d6e";
pub const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const SECRET: &[u8] = b"local-secret-for-tests-0123456789abcdef";

pub struct Env {
    pub fake: FakeAzureAd,
    pub store: MemoryStore,
    pub tenant: Tenant,
    pub auth: Authenticator,
    pub app: Router,
    pub issuer: LocalTokenIssuer,
}

/// Adjusts the resolver, given the test tenant.
pub type ResolverHook = Box<dyn Fn(UserResolver, &Tenant) -> UserResolver + Send>;

pub struct Options {
    pub auto_provision: bool,
    pub azure: Box<dyn Fn(AzureAdConfig) -> AzureAdConfig + Send>,
    pub role_map: &'static str,
    pub resolver: ResolverHook,
    pub audit: Option<Arc<dyn erp_core::AuditSink>>,
    /// A fake to use instead of a new global-cloud one for `TID`.
    pub fake: Option<FakeAzureAd>,
    /// The `AZURE_TENANT_ID` setting (default: the fake's directory).
    pub tenant_setting: Option<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            auto_provision: true,
            azure: Box::new(|c| c.with_min_refresh_interval(Duration::ZERO)),
            role_map: "Finance.Admin=admin",
            resolver: Box::new(|r, _| r),
            audit: None,
            fake: None,
            tenant_setting: None,
        }
    }
}

pub fn local_config() -> LocalJwtConfig {
    LocalJwtConfig::new(KeyRing::new("k-2026", SECRET).unwrap())
}

pub async fn env() -> Env {
    env_with(Options::default()).await
}

pub async fn env_with(options: Options) -> Env {
    let fake = match options.fake {
        Some(f) => f,
        None => FakeAzureAd::start(TID, CLIENT_ID).await,
    };
    let store = MemoryStore::new();
    let tenant = store
        .create(NewTenant::new("contoso", "Contoso").with_azure_tenant_id(fake.tenant_id()))
        .await
        .unwrap();
    let config = match options.tenant_setting {
        Some(t) => fake.config_for(t),
        None => fake.config(),
    };
    let azure = AzureAdVerifier::start((options.azure)(config))
        .await
        .unwrap();
    let resolver = UserResolver::new(Arc::new(store.clone()), Arc::new(store.clone()))
        .with_auto_provision(options.auto_provision)
        .with_default_role(Some("viewer".parse().unwrap()))
        .with_role_mapper(RoleMapper::parse(options.role_map).unwrap());
    let resolver = (options.resolver)(resolver, &tenant);
    let mut builder = Authenticator::builder(resolver)
        .with_azure(azure)
        .with_local(LocalJwtVerifier::new(local_config()));
    if let Some(audit) = options.audit {
        builder = builder.with_audit(audit);
    }
    let auth = builder.build().unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|Authenticated(p): Authenticated| async move { Json(p) }),
        )
        .route(
            "/claims",
            get(
                |axum::Extension(claims): axum::Extension<TokenClaims>| async move {
                    Json(serde_json::json!({
                        "group_overage": claims.has_group_overage(),
                        "groups": claims.groups,
                    }))
                },
            ),
        )
        .route(
            "/admin",
            get(|| async { "admin" }).layer(require_role("admin")),
        )
        .route(
            "/books",
            get(|| async { "books" }).layer(require_any_role(["admin", "accountant"])),
        )
        .route(
            "/scoped",
            get(|| async { "scoped" }).layer(require_scope("Books.Read")),
        )
        .route(
            "/any-scope",
            get(|| async { "any" }).layer(require_any_scope(["Books.Read", "Books.ReadWrite"])),
        )
        .route(
            "/app-role",
            get(|| async { "app" }).layer(require_app_role("Sync.Run")),
        )
        .route(
            "/handler-scope",
            get(|token: AuthenticatedToken| async move {
                token.require_scope("Books.Read")?;
                Ok::<_, erp_auth::layer::ScopeRejection>("handler")
            }),
        )
        .layer(AuthLayer::new(auth.clone()));
    Env {
        fake,
        store,
        tenant,
        auth,
        app,
        issuer: LocalTokenIssuer::new(local_config()),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

pub async fn call(app: &Router, path: &str, authorization: Option<&str>) -> Reply {
    let mut req = Request::get(path);
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&bytes).into_owned(),
    ));
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn bearer(app: &Router, token: &str) -> Reply {
    call(app, "/me", Some(&format!("Bearer {token}"))).await
}

/// Asserts a 401 with the given code and an RFC 6750 challenge.
pub fn assert_401(reply: &Reply, code: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{:?}", reply.body);
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}
