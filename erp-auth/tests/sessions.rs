//! Revocation through the layer: sessions, users, tenants, store outages, cookies + CSRF,
//! and two instances on one PostgreSQL database.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use axum::{Json, Router, body::Body, routing::get};
use chrono::{DateTime, Utc};
use common::*;
use erp_auth::{
    AuthLayer, Authenticated, Authenticator,
    local::{LocalJwtVerifier, LocalTokenIssuer, TokenRequest},
    resolve::UserResolver,
    session::{CookieConfig, SessionCookies, SessionGuard},
};
use erp_core::{
    AuthMethod, NewSession, NewTenant, NewUser, RevocationWatermarks, Session, SessionId,
    SessionStore, TenantId, TenantRepository, UserId, UserRepository, memory::MemoryStore,
};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A session store that can be switched off, to play "database down".
#[derive(Clone)]
struct Flaky {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> erp_core::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            Err(erp_core::Error::unavailable(
                erp_core::Backend::Postgres,
                "test outage",
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for Flaky {
    async fn create(&self, s: NewSession) -> erp_core::Result<Session> {
        self.check()?;
        SessionStore::create(&self.inner, s).await
    }
    async fn get(&self, t: TenantId, id: &SessionId) -> erp_core::Result<Option<Session>> {
        self.check()?;
        SessionStore::get(&self.inner, t, id).await
    }
    async fn touch(&self, t: TenantId, id: &SessionId, at: DateTime<Utc>) -> erp_core::Result<()> {
        self.check()?;
        self.inner.touch(t, id, at).await
    }
    async fn revoke(
        &self,
        t: TenantId,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> erp_core::Result<bool> {
        self.check()?;
        self.inner.revoke(t, id, at).await
    }
    async fn revoke_user(
        &self,
        t: TenantId,
        u: UserId,
        at: DateTime<Utc>,
    ) -> erp_core::Result<u64> {
        self.check()?;
        self.inner.revoke_user(t, u, at).await
    }
    async fn revoke_tenant(&self, t: TenantId, at: DateTime<Utc>) -> erp_core::Result<u64> {
        self.check()?;
        self.inner.revoke_tenant(t, at).await
    }
    async fn list_active(
        &self,
        t: TenantId,
        u: UserId,
        now: DateTime<Utc>,
    ) -> erp_core::Result<Vec<Session>> {
        self.check()?;
        self.inner.list_active(t, u, now).await
    }
    async fn purge_expired(&self, now: DateTime<Utc>) -> erp_core::Result<u64> {
        self.check()?;
        self.inner.purge_expired(now).await
    }
    async fn watermarks(&self, t: TenantId, u: UserId) -> erp_core::Result<RevocationWatermarks> {
        self.check()?;
        self.inner.watermarks(t, u).await
    }
}

struct World {
    store: MemoryStore,
    down: Arc<AtomicBool>,
    guard: SessionGuard,
    cookies: SessionCookies,
    app: Router,
    tenant: TenantId,
    other_tenant: TenantId,
    fake: erp_auth::testkit::FakeAzureAd,
}

async fn world(grace: Option<Duration>) -> World {
    world_with(Duration::from_secs(300), grace).await
}

async fn world_with(ttl: Duration, grace: Option<Duration>) -> World {
    let store = MemoryStore::new();
    let down = Arc::new(AtomicBool::new(false));
    let flaky = Flaky {
        inner: store.clone(),
        down: Arc::clone(&down),
    };
    let guard = SessionGuard::new(Arc::new(flaky))
        .with_entry_ttl(ttl)
        .with_grace_period(grace);
    let cookies = SessionCookies::new(
        CookieConfig::new("c1", &[7; 32])
            .unwrap()
            .with_secure(false),
    );
    let tenant = TenantRepository::create(
        &store,
        NewTenant::new("acme", "Acme").with_azure_tenant_id(TID),
    )
    .await
    .unwrap()
    .id;
    let other_tenant = TenantRepository::create(&store, NewTenant::new("beta", "Beta"))
        .await
        .unwrap()
        .id;
    let fake = erp_auth::testkit::FakeAzureAd::start(TID, CLIENT_ID).await;
    let auth = Authenticator::builder(
        UserResolver::new(Arc::new(store.clone()), Arc::new(store.clone()))
            .with_auto_provision(true),
    )
    .with_local(LocalJwtVerifier::new(local_config()))
    .with_azure(
        erp_auth::azure::AzureAdVerifier::start(fake.config())
            .await
            .unwrap(),
    )
    .with_sessions(guard.clone())
    .with_cookies(cookies.clone())
    .build()
    .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|Authenticated(p): Authenticated| async move { Json(p) })
                .post(|Authenticated(p): Authenticated| async move { Json(p) }),
        )
        .layer(AuthLayer::new(auth));
    World {
        store,
        down,
        guard,
        cookies,
        app,
        tenant,
        other_tenant,
        fake,
    }
}

/// A user with an open session and a token for it.
async fn signed_in(w: &World, tenant: TenantId, name: &str) -> (UserId, SessionId, String) {
    let user = UserRepository::create(&w.store, tenant, NewUser::new(name))
        .await
        .unwrap();
    let session = SessionStore::create(
        &w.store,
        NewSession {
            id: SessionId::generate(),
            tenant_id: tenant,
            user_id: user.id,
            auth_method: AuthMethod::LocalPassword,
            expires_at: Utc::now() + chrono::Duration::hours(1),
            ip: None,
            user_agent: None,
        },
    )
    .await
    .unwrap();
    let token = LocalTokenIssuer::new(local_config())
        .issue(&TokenRequest {
            user_id: user.id,
            tenant_id: tenant,
            session_id: session.id.clone(),
            roles: vec![],
        })
        .unwrap()
        .token;
    (user.id, session.id, token)
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_is_refused_at_once() {
    let w = world(None).await;
    let (_, session, token) = signed_in(&w, w.tenant, "alice").await;
    assert_eq!(bearer(&w.app, &token).await.status, StatusCode::OK);
    assert!(w.guard.revoke_session(w.tenant, &session).await.unwrap());
    let reply = bearer(&w.app, &token).await;
    assert_401(&reply, "SESSION_REVOKED");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_and_tenant_revocation_cover_local_and_azure_tokens() {
    let w = world(None).await;
    let (alice, _, alice_token) = signed_in(&w, w.tenant, "alice").await;
    let (_, _, bob_token) = signed_in(&w, w.tenant, "bob").await;
    let (_, _, beta_token) = signed_in(&w, w.other_tenant, "carol").await;
    let azure = w.fake.token().build();
    for t in [&alice_token, &bob_token, &beta_token, &azure] {
        assert_eq!(bearer(&w.app, t).await.status, StatusCode::OK);
    }
    assert_eq!(w.guard.revoke_user(w.tenant, alice).await.unwrap(), 1);
    assert_401(&bearer(&w.app, &alice_token).await, "SESSION_REVOKED");
    assert_eq!(bearer(&w.app, &bob_token).await.status, StatusCode::OK);

    // The Entra ID user: revoke by watermark; a token issued after it works again.
    let me = bearer(&w.app, &azure).await.body;
    let azure_user: UserId = me["user_id"].as_str().unwrap().parse().unwrap();
    w.guard.revoke_user(w.tenant, azure_user).await.unwrap();
    assert_401(&bearer(&w.app, &azure).await, "SESSION_REVOKED");
    let fresh = w
        .fake
        .token()
        .claim("iat", Utc::now().timestamp() + 2)
        .claim("nbf", Utc::now().timestamp())
        .build();
    assert_eq!(bearer(&w.app, &fresh).await.status, StatusCode::OK);

    // Tenant lock-down: every credential issued before it, nobody elsewhere.
    let dave = w
        .fake
        .token()
        .claim("oid", "00000000-0000-0000-0000-00000000da7e")
        .claim("preferred_username", "dave@contoso.example")
        .build();
    assert_eq!(bearer(&w.app, &dave).await.status, StatusCode::OK);
    w.guard.revoke_tenant(w.tenant).await.unwrap();
    assert_401(&bearer(&w.app, &bob_token).await, "SESSION_REVOKED");
    assert_401(&bearer(&w.app, &dave).await, "SESSION_REVOKED");
    assert_eq!(bearer(&w.app, &beta_token).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn store_down_fails_closed_unless_grace_is_configured() {
    // Never seen, store down: 503.
    let w = world(None).await;
    let (_, _, token) = signed_in(&w, w.tenant, "alice").await;
    w.down.store(true, Ordering::SeqCst);
    let reply = bearer(&w.app, &token).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        reply.body
    );
    assert_eq!(reply.body["code"], "UPSTREAM_UNAVAILABLE");

    // Seen, but past its TTL, store down, no grace: still 503 (stale is not trusted).
    let w = world_with(Duration::ZERO, None).await;
    let (_, _, token) = signed_in(&w, w.tenant, "alice").await;
    assert_eq!(bearer(&w.app, &token).await.status, StatusCode::OK);
    w.down.store(true, Ordering::SeqCst);
    assert_eq!(
        bearer(&w.app, &token).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );

    // The same with an explicit grace period: the cached answer serves through the outage.
    let w = world_with(Duration::ZERO, Some(Duration::from_secs(60))).await;
    let (_, _, token) = signed_in(&w, w.tenant, "alice").await;
    let (_, _, unseen) = signed_in(&w, w.tenant, "bob").await;
    assert_eq!(bearer(&w.app, &token).await.status, StatusCode::OK);
    w.down.store(true, Ordering::SeqCst);
    assert_eq!(bearer(&w.app, &token).await.status, StatusCode::OK);
    assert_eq!(
        bearer(&w.app, &unseen).await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never seen: nothing to serve from"
    );
}

async fn cookie_call(app: &Router, method: &str, cookie: &str, csrf: Option<&str>) -> StatusCode {
    let mut req = Request::builder()
        .method(method)
        .uri("/me")
        .header("cookie", cookie);
    if let Some(token) = csrf {
        req = req.header("x-csrf-token", token);
    }
    let response = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let _ = response.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_with_csrf_on_unsafe_methods() {
    let w = world(None).await;
    let (_, session, _) = signed_in(&w, w.tenant, "alice").await;
    let issued = w
        .cookies
        .issue(w.tenant, &session, Utc::now() + chrono::Duration::hours(1));
    let cookie = issued
        .session
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        cookie_call(&w.app, "GET", &cookie, None).await,
        StatusCode::OK
    );
    assert_eq!(
        cookie_call(&w.app, "POST", &cookie, None).await,
        StatusCode::FORBIDDEN,
        "missing CSRF"
    );
    assert_eq!(
        cookie_call(&w.app, "POST", &cookie, Some("forged")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        cookie_call(&w.app, "POST", &cookie, Some(&issued.csrf_token)).await,
        StatusCode::OK
    );
    // Another session's CSRF token does not fit this session.
    let (_, other, _) = signed_in(&w, w.tenant, "bob").await;
    let theirs = w.cookies.issue(w.tenant, &other, Utc::now()).csrf_token;
    assert_eq!(
        cookie_call(&w.app, "POST", &cookie, Some(&theirs)).await,
        StatusCode::FORBIDDEN
    );
    // Tampered cookie: 401.
    let tampered = cookie.replace(session.as_str(), other.as_str());
    assert_eq!(
        cookie_call(&w.app, "GET", &tampered, None).await,
        StatusCode::UNAUTHORIZED
    );
    // Revoked session: 401, and the CSRF header cannot rescue it.
    w.guard.revoke_session(w.tenant, &session).await.unwrap();
    assert_eq!(
        cookie_call(&w.app, "POST", &cookie, Some(&issued.csrf_token)).await,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------- two instances, real PostgreSQL

struct PgInstance {
    app: Router,
    guard: SessionGuard,
    _listener: erp_core::sql::RevocationListener,
}

async fn pg_instance(cfg: &erp_core::sql::PgConfig) -> PgInstance {
    use erp_core::sql::{
        Database, PgExecutor, RevocationListener, SqlSessionStore, SqlTenantRepository,
        SqlUserRepository,
    };
    let db = Database::Postgres(PgExecutor::connect(cfg.clone()).await.unwrap());
    db.migrate().await.unwrap();
    let listener = RevocationListener::start(cfg);
    let guard = SessionGuard::new(Arc::new(SqlSessionStore::new(db.clone())));
    guard.follow(listener.subscribe());
    let auth = Authenticator::builder(UserResolver::new(
        Arc::new(SqlUserRepository::new(db.clone())),
        Arc::new(SqlTenantRepository::new(db)),
    ))
    .with_local(LocalJwtVerifier::new(local_config()))
    .with_sessions(guard.clone())
    .build()
    .unwrap();
    let app = Router::new()
        .route(
            "/me",
            get(|Authenticated(p): Authenticated| async move { Json(p) }),
        )
        .layer(AuthLayer::new(auth));
    // Wait for the listener so the test measures propagation, not start-up.
    for _ in 0..200 {
        if listener.is_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(listener.is_connected(), "LISTEN connection up");
    PgInstance {
        app,
        guard,
        _listener: listener,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_revocation_on_one_instance_is_honoured_by_another_within_a_second() {
    use erp_core::sql::{
        Database, PgConfig, PgExecutor, SqlSessionStore, SqlTenantRepository, SqlUserRepository,
    };
    let url = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("erp_t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let cfg = PgConfig::from_env_value("ERP_TEST_DATABASE_URL", &url)
        .unwrap()
        .with_schema(schema.clone())
        .unwrap();
    let a = pg_instance(&cfg).await;
    let b = pg_instance(&cfg).await;

    let db = Database::Postgres(PgExecutor::connect(cfg.clone()).await.unwrap());
    let tenant = SqlTenantRepository::new(db.clone())
        .create(NewTenant::new("acme", "Acme"))
        .await
        .unwrap()
        .id;
    let store = SqlSessionStore::new(db.clone());
    let mut sessions = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let user = SqlUserRepository::new(db.clone())
            .create(tenant, NewUser::new(name))
            .await
            .unwrap();
        let session = store
            .create(NewSession {
                id: SessionId::generate(),
                tenant_id: tenant,
                user_id: user.id,
                auth_method: AuthMethod::LocalPassword,
                expires_at: Utc::now() + chrono::Duration::hours(1),
                ip: None,
                user_agent: None,
            })
            .await
            .unwrap();
        let token = LocalTokenIssuer::new(local_config())
            .issue(&TokenRequest {
                user_id: user.id,
                tenant_id: tenant,
                session_id: session.id.clone(),
                roles: vec![],
            })
            .unwrap()
            .token;
        // Both instances have the session cached as active.
        assert_eq!(bearer(&a.app, &token).await.status, StatusCode::OK);
        assert_eq!(bearer(&b.app, &token).await.status, StatusCode::OK);
        sessions.push((user.id, session.id, token));
    }

    let until_refused = |app: Router, token: String| async move {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(1) {
            if bearer(&app, &token).await.status == StatusCode::UNAUTHORIZED {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("instance B still accepts the token 1 s after the revocation on A");
    };
    // Logout of one session, on A.
    a.guard
        .revoke_session(tenant, &sessions[0].1)
        .await
        .unwrap();
    let t1 = until_refused(b.app.clone(), sessions[0].2.clone()).await;
    // All sessions of a user, on A.
    a.guard.revoke_user(tenant, sessions[1].0).await.unwrap();
    let t2 = until_refused(b.app.clone(), sessions[1].2.clone()).await;
    // The whole tenant, on B, seen by A.
    b.guard.revoke_tenant(tenant).await.unwrap();
    let t3 = until_refused(a.app.clone(), sessions[2].2.clone()).await;
    eprintln!("cross-instance revocation: session {t1:?}, user {t2:?}, tenant {t3:?}");

    let cleanup = tokio_postgres::connect(&url, tokio_postgres::NoTls).await;
    if let Ok((client, conn)) = cleanup {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_purger_deletes_expired_sessions_in_the_background() {
    let store = MemoryStore::new();
    let tenant = TenantRepository::create(&store, NewTenant::new("p", "P"))
        .await
        .unwrap()
        .id;
    let user = UserRepository::create(&store, tenant, NewUser::new("u"))
        .await
        .unwrap()
        .id;
    let expired = SessionStore::create(
        &store,
        NewSession {
            id: SessionId::generate(),
            tenant_id: tenant,
            user_id: user,
            auth_method: AuthMethod::LocalPassword,
            expires_at: Utc::now() - chrono::Duration::seconds(1),
            ip: None,
            user_agent: None,
        },
    )
    .await
    .unwrap();
    let task = erp_auth::session::spawn_purger(Arc::new(store.clone()), Duration::from_secs(1));
    let started = Instant::now();
    while SessionStore::get(&store, tenant, &expired.id)
        .await
        .unwrap()
        .is_some()
    {
        assert!(started.elapsed() < Duration::from_secs(5), "not purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
}
