//! Logins: local passwords, legacy hash upgrade, the external auth API (wiremock), rate
//! limits, timing of unknown users, refresh, logout and the audit trail.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::{SECRET, local_config};
use erp_auth::{
    AuthError, Authenticator,
    local::{LocalJwtVerifier, LocalTokenIssuer},
    login::{ExternalAuthClient, ExternalAuthConfig, LoginRequest, LoginResult, LoginService},
    password::PasswordHasher,
    resolve::UserResolver,
    session::SessionGuard,
};
use erp_core::{
    AuthEventKind, AuthMethod, NewTenant, NewUser, TenantId, TenantRepository, UserRepository,
    memory::{MemoryAuditSink, MemoryStore},
};
use serde_json::json;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers};

fn hasher() -> PasswordHasher {
    // Small parameters keep debug-build tests fast; production uses PasswordHasher::new().
    PasswordHasher::with_params(1024, 1, 1).unwrap()
}

struct Env {
    store: MemoryStore,
    audit: MemoryAuditSink,
    tenant: TenantId,
    login: LoginService,
    auth: Authenticator,
}

async fn env_with(
    configure: impl FnOnce(erp_auth::login::LoginServiceBuilder) -> erp_auth::login::LoginServiceBuilder,
) -> Env {
    let store = MemoryStore::new();
    let audit = MemoryAuditSink::new();
    let tenant = TenantRepository::create(&store, NewTenant::new("acme", "Acme"))
        .await
        .unwrap()
        .id;
    let guard = SessionGuard::new(Arc::new(store.clone()));
    let login = configure(
        LoginService::builder(
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            LocalTokenIssuer::new(local_config()),
        )
        .with_hasher(hasher())
        .with_audit(Arc::new(audit.clone()))
        .with_session_guard(guard.clone())
        .with_default_tenant(Some(tenant)),
    )
    .build();
    let auth = Authenticator::builder(UserResolver::new(
        Arc::new(store.clone()),
        Arc::new(store.clone()),
    ))
    .with_local(LocalJwtVerifier::new(local_config()))
    .with_sessions(guard)
    .build()
    .unwrap();
    Env {
        store,
        audit,
        tenant,
        login,
        auth,
    }
}

async fn env() -> Env {
    env_with(|b| b).await
}

fn req(username: &str, password: &str) -> LoginRequest {
    LoginRequest {
        username: username.into(),
        password: password.into(),
        ip: Some("203.0.113.9".into()),
        user_agent: Some("test".into()),
        ..LoginRequest::default()
    }
}

async fn add_user(env: &Env, name: &str, hash: Option<String>) -> erp_core::User {
    let mut new = NewUser::new(name).with_display_name(format!("{name} display"));
    if let Some(h) = hash {
        new = new.with_password_hash(h);
    }
    UserRepository::create(&env.store, env.tenant, new)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn local_login_opens_a_session_and_refuses_bad_passwords() {
    let env = env().await;
    add_user(&env, "alice", Some(hasher().hash("correct horse").unwrap())).await;
    let ok = env
        .login
        .login(req("ALICE", "correct horse"))
        .await
        .unwrap();
    assert_eq!(ok.auth_method, AuthMethod::LocalPassword);
    assert_eq!(ok.user.display_name.as_deref(), Some("alice display"));
    assert!(ok.refresh_at < ok.expires_at);
    let principal = env.auth.authenticate(&ok.access_token).await.unwrap();
    assert_eq!(principal.session_id.as_ref(), Some(&ok.session_id));

    for (user, pw) in [("alice", "wrong"), ("nobody", "correct horse")] {
        let err = env.login.login(req(user, pw)).await.unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
        assert_eq!(err.status(), 401);
    }
    let err = env.login.login(req("", "x")).await.unwrap_err();
    assert_eq!(err.code(), "VALIDATION_FAILED");
    let err = env
        .login
        .login(req("alice", &"x".repeat(2000)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "VALIDATION_FAILED");

    let events = env.audit.events();
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AuthEventKind::Login)
        .collect();
    assert_eq!(logins.len(), 3);
    assert!(logins[0].success && logins[0].session_id.is_some());
    assert_eq!(logins[1].reason.as_deref(), Some("INVALID_CREDENTIALS"));
    assert_eq!(logins[2].username.as_deref(), Some("nobody"));
    let dump = format!("{events:?}");
    assert!(
        !dump.contains("correct horse") && !dump.contains(&ok.access_token),
        "secrets in the audit trail"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_hashes_are_verified_and_upgraded() {
    let env = env().await;
    // Django PBKDF2 and unsalted SHA-256 of "correct horse" (known answers, see password tests).
    let pbkdf2 = "pbkdf2_sha256$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=";
    let sha = "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631";
    for (name, hash) in [("django", pbkdf2), ("sha", sha)] {
        let user = add_user(&env, name, Some(hash.to_owned())).await;
        assert!(env.login.login(req(name, "wrong")).await.is_err());
        env.login.login(req(name, "correct horse")).await.unwrap();
        let stored = UserRepository::by_id(&env.store, env.tenant, user.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{name}: {stored}");
        env.login
            .login(req(name, "correct horse"))
            .await
            .expect("the upgraded hash verifies");
    }
    let upgrades = env
        .audit
        .events()
        .iter()
        .filter(|e| e.kind == AuthEventKind::PasswordUpgrade)
        .count();
    assert_eq!(upgrades, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_per_username_and_per_address_then_reset() {
    let env = env_with(|b| b.with_rate_limits(3, 5, Duration::from_millis(600))).await;
    add_user(&env, "alice", Some(hasher().hash("pw").unwrap())).await;
    for _ in 0..3 {
        assert!(matches!(
            env.login.login(req("alice", "bad")).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    let err = env.login.login(req("alice", "pw")).await.unwrap_err();
    let AuthError::RateLimited { retry_after } = err else {
        panic!("{err:?}")
    };
    // A sliding-window counter: the wait can reach into the next window (at most two).
    assert!(
        retry_after <= Duration::from_millis(1200),
        "{retry_after:?}"
    );
    let header: u64 = erp_auth::layer::problem_response(&AuthError::RateLimited { retry_after })
        .headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&header), "{header}");
    // Other usernames from the same address: the address limit (5) is next.
    assert!(env.login.login(req("bob", "x")).await.is_err());
    let err = env.login.login(req("carol", "x")).await.unwrap_err();
    assert!(
        matches!(err, AuthError::RateLimited { .. }),
        "per address: {err:?}"
    );
    // Two windows later the attempts weigh nothing any more.
    tokio::time::sleep(Duration::from_millis(1250)).await;
    env.login
        .login(req("alice", "pw"))
        .await
        .expect("the window slid");
    assert!(
        env.audit
            .events()
            .iter()
            .any(|e| e.reason.as_deref() == Some("RATE_LIMITED"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_known_and_hashless_usernames_cost_one_argon2_run_each() {
    // Counted, not timed: the cost that hides which usernames exist is one Argon2
    // computation per attempt, whichever way the attempt fails.
    let counting = hasher();
    let env = env_with(|b| {
        b.with_hasher(counting.clone())
            .with_rate_limits(0, 0, Duration::from_secs(1))
    })
    .await;
    add_user(&env, "alice", Some(hasher().hash("pw").unwrap())).await;
    add_user(&env, "sso-only", None).await;
    for user in ["alice", "nobody-by-this-name", "sso-only"] {
        let before = counting.argon2_runs();
        let err = env
            .login
            .login(req(user, "wrong-password"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidCredentials),
            "{user}: {err:?}"
        );
        assert_eq!(counting.argon2_runs() - before, 1, "{user}");
    }
}

/// Replaying `replayed`'s refresh token is theft: refused, the session (and with it
/// `live`'s access token) revoked on this instance at once, and audited.
async fn replay_revokes_the_session(env: &Env, replayed: &LoginResult, live: &LoginResult) {
    let err = env
        .login
        .refresh(replayed.refresh_token.expose(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SESSION_REVOKED");
    assert_eq!(
        env.auth
            .authenticate(&live.access_token)
            .await
            .unwrap_err()
            .code(),
        "SESSION_REVOKED"
    );
    assert!(
        env.audit
            .events()
            .iter()
            .any(|e| e.kind == AuthEventKind::RefreshReuse)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_replayed_within_the_reuse_interval_keeps_the_session() {
    let env = env().await; // the default interval, 10 s
    add_user(&env, "alice", Some(hasher().hash("pw").unwrap())).await;
    let first = env.login.login(req("alice", "pw")).await.unwrap();
    let second = env
        .login
        .refresh(first.refresh_token.expose(), None)
        .await
        .unwrap();
    // The other tab, or a retry that lost the answer: same token, a moment later.
    let tab = env
        .login
        .refresh(first.refresh_token.expose(), None)
        .await
        .unwrap();
    assert_eq!(tab.session_id, first.session_id);
    assert_ne!(tab.refresh_token, second.refresh_token);
    env.auth.authenticate(&second.access_token).await.unwrap();
    env.auth.authenticate(&tab.access_token).await.unwrap();
    assert!(
        !env.audit
            .events()
            .iter()
            .any(|e| e.kind == AuthEventKind::RefreshReuse)
    );

    // `second` rotates on: `first` is now an older ancestor, and replaying it is theft.
    env.login
        .refresh(second.refresh_token.expose(), None)
        .await
        .unwrap();
    replay_revokes_the_session(&env, &first, &tab).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_reuse_revokes_and_logout_ends_the_session() {
    // Strict: no reuse grace, so the replay below is theft even right after the rotation.
    let env = env_with(|b| b.with_refresh_reuse_interval(Duration::ZERO)).await;
    add_user(&env, "alice", Some(hasher().hash("pw").unwrap())).await;
    let first = env.login.login(req("alice", "pw")).await.unwrap();
    let second = env
        .login
        .refresh(first.refresh_token.expose(), None)
        .await
        .unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    env.auth.authenticate(&second.access_token).await.unwrap();

    // Replaying the first refresh token: the session dies, on this instance at once.
    replay_revokes_the_session(&env, &first, &second).await;
    assert!(env.login.refresh("garbage", None).await.is_err());

    let third = env.login.login(req("alice", "pw")).await.unwrap();
    let principal = env.auth.authenticate(&third.access_token).await.unwrap();
    assert!(env.login.logout(&principal).await.unwrap());
    assert_eq!(
        env.auth
            .authenticate(&third.access_token)
            .await
            .unwrap_err()
            .code(),
        "SESSION_REVOKED"
    );
    assert!(
        env.login
            .refresh(third.refresh_token.expose(), None)
            .await
            .is_err(),
        "logout ends refresh too"
    );
    assert!(
        env.audit
            .events()
            .iter()
            .any(|e| e.kind == AuthEventKind::Logout)
    );
}

// ------------------------------------------------------------------ external auth API

/// The external API of the contract: alice/correct is valid, anything else 401;
/// "malformed", "hang" and "boom" misbehave on purpose.
struct FakeExternal;

impl Respond for FakeExternal {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let user = body["username"].as_str().unwrap_or_default();
        let password = body["password"].as_str().unwrap_or_default();
        match user {
            "malformed" => {
                return ResponseTemplate::new(200)
                    .set_body_string("{\"success\":true,\"data\":{\"oops\":1}}");
            }
            "hang" => return ResponseTemplate::new(200).set_delay(Duration::from_secs(5)),
            "boom" => return ResponseTemplate::new(500),
            _ => {}
        }
        if password == "correct" {
            ResponseTemplate::new(200).set_body_json(json!({
                "success": true,
                "message": "ok",
                "data": {
                    "access_token": "upstream-access", "id_token": "upstream-id",
                    "expires_in": 3600, "token_type": "Bearer",
                    "userInfo": {"id": format!("ext-{user}"), "name": "Jane Doe 珍", "email": "jane@corp.example",
                                 "jobTitle": "Clerk", "officeLocation": "HK", "businessPhones": ["+852 0000"]},
                    "issuedAt": "2026-11-23T05:00:00Z", "expiresAt": "2026-11-23T06:00:00Z"
                },
                "timestamp": "2026-11-23T05:00:00Z"
            }))
        } else {
            ResponseTemplate::new(401).set_body_json(json!({
                "success": false, "error": "bad password", "code": "INVALID_CREDENTIALS", "timestamp": "x"
            }))
        }
    }
}

async fn external_env(fallback: bool) -> (Env, MockServer) {
    let server = MockServer::start().await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/api/auth/login"))
        .respond_with(FakeExternal)
        .mount(&server)
        .await;
    let client = ExternalAuthClient::new(
        ExternalAuthConfig::new(&server.uri(), "/api/auth/login")
            .unwrap()
            .with_timeout(Duration::from_millis(400)),
    )
    .unwrap();
    (
        env_with(|b| b.with_external(client, fallback)).await,
        server,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn external_login_upserts_the_directory_user() {
    let (env, _server) = external_env(false).await;
    let ok = env.login.login(req("jane", "correct")).await.unwrap();
    assert_eq!(ok.auth_method, AuthMethod::ExternalApi);
    assert_eq!(ok.user.display_name.as_deref(), Some("Jane Doe 珍"));
    assert_eq!(
        ok.upstream_expires_at.unwrap().to_rfc3339(),
        "2026-11-23T06:00:00+00:00"
    );
    let stored = env
        .store
        .by_external_id(env.tenant, "ext-jane")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.azure_email.as_deref(), Some("jane@corp.example"));
    assert!(stored.last_token_refresh.is_some());
    assert!(
        stored.password_hash.is_none(),
        "the external password is never stored"
    );
    env.auth.authenticate(&ok.access_token).await.unwrap();
    let again = env.login.login(req("jane", "correct")).await.unwrap();
    assert_eq!(again.user.id, ok.user.id, "the same user, refreshed");

    let err = env.login.login(req("jane", "wrong")).await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidCredentials));
    let err = env
        .login
        .login(req("malformed", "correct"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE");
    assert_eq!(err.status(), 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_outages_fall_back_only_when_allowed_and_never_on_401() {
    let (env, _server) = external_env(false).await;
    add_user(&env, "boom", Some(hasher().hash("local-pw").unwrap())).await;
    let err = env.login.login(req("boom", "local-pw")).await.unwrap_err();
    assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE", "no fallback configured");

    let (env, _server) = external_env(true).await;
    add_user(&env, "boom", Some(hasher().hash("local-pw").unwrap())).await;
    add_user(&env, "alice", Some(hasher().hash("local-pw").unwrap())).await;
    let ok = env.login.login(req("boom", "local-pw")).await.unwrap();
    assert_eq!(
        ok.auth_method,
        AuthMethod::LocalPassword,
        "upstream 500: local password"
    );
    assert!(matches!(
        env.login.login(req("boom", "wrong")).await,
        Err(AuthError::InvalidCredentials)
    ));
    // Upstream says 401: final, even though alice's local password is right.
    let err = env.login.login(req("alice", "local-pw")).await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
    // Outage and no local hash: 503.
    let err = env.login.login(req("hang", "x")).await.unwrap_err();
    assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_upstream_is_cut_off_at_the_timeout() {
    let (env, _server) = external_env(false).await;
    let started = Instant::now();
    let err = env.login.login(req("hang", "correct")).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), "UPSTREAM_UNAVAILABLE");
    // The upstream would answer after 5 s; the 400 ms timeout ends it (generous bound).
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

// ------------------------------------------------------------------ audit rows in a database

#[tokio::test(flavor = "multi_thread")]
async fn audit_rows_are_written_to_the_database() {
    use erp_core::sql::{
        Database, DatabaseConfig, SqlAuditSink, SqlSessionStore, SqlTenantRepository,
        SqlUserRepository,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(
        DatabaseConfig::from_url(&format!(
            "sqlite://{}",
            dir.path().join("a.sqlite").display()
        ))
        .unwrap(),
    )
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let tenants = SqlTenantRepository::new(db.clone());
    let tenant = tenants
        .create(NewTenant::new("acme", "Acme"))
        .await
        .unwrap();
    let users = SqlUserRepository::new(db.clone());
    users
        .create(
            tenant.id,
            NewUser::new("alice").with_password_hash(hasher().hash("pw").unwrap()),
        )
        .await
        .unwrap();
    let sink = SqlAuditSink::new(db.clone());
    let login = LoginService::builder(
        Arc::new(users),
        Arc::new(tenants),
        Arc::new(SqlSessionStore::new(db.clone())),
        Arc::new(SqlSessionStore::new(db.clone())),
        LocalTokenIssuer::new(local_config()),
    )
    .with_hasher(hasher())
    .with_audit(Arc::new(sink.clone()))
    .build();
    let mut r = req("alice", "pw");
    r.tenant = Some("acme".into());
    login.login(r.clone()).await.unwrap();
    r.password = "nope".into();
    assert!(login.login(r).await.is_err());
    let rows = sink.recent(tenant.id, 10).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(!rows[0].success && rows[0].reason.as_deref() == Some("INVALID_CREDENTIALS"));
    assert!(rows[1].success && rows[1].user_id.is_some());
    let _ = SECRET;
}
