//! The verified-token cache: repeats skip the signature, nothing else.

mod common;

use std::{sync::Arc, sync::atomic::Ordering, time::Duration};

use chrono::Utc;
use common::*;
use erp_auth::{
    Authenticator,
    azure::AzureAdVerifier,
    local::{LocalJwtVerifier, LocalTokenIssuer, TokenRequest},
    resolve::UserResolver,
    session::{SessionGuard, TokenRevocationGuard},
    testkit::FakeAzureAd,
    token_cache::TokenCacheConfig,
};
use erp_core::{
    AuthMethod, NewSession, NewTenant, NewUser, SessionId, SessionStore, Tenant, TenantRepository,
    UserId, UserRepository, memory::MemoryStore,
};

struct World {
    store: MemoryStore,
    tenant: Tenant,
    fake: FakeAzureAd,
    auth: Authenticator,
    guard: SessionGuard,
}

async fn world(cache: TokenCacheConfig) -> World {
    let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
    let store = MemoryStore::new();
    let tenant = TenantRepository::create(
        &store,
        NewTenant::new("contoso", "Contoso").with_azure_tenant_id(TID),
    )
    .await
    .unwrap();
    let guard = SessionGuard::new(Arc::new(store.clone()));
    let auth = Authenticator::builder(
        UserResolver::new(Arc::new(store.clone()), Arc::new(store.clone()))
            .with_auto_provision(true),
    )
    .with_azure(
        AzureAdVerifier::start(fake.config().with_min_refresh_interval(Duration::ZERO))
            .await
            .unwrap(),
    )
    .with_local(LocalJwtVerifier::new(
        local_config().with_leeway(Duration::ZERO),
    ))
    .with_sessions(guard.clone())
    .with_token_revocations(TokenRevocationGuard::new(Arc::new(store.clone())))
    .with_token_cache(cache)
    .build()
    .unwrap();
    World {
        store,
        tenant,
        fake,
        auth,
        guard,
    }
}

async fn local_token(w: &World, name: &str, ttl: Duration) -> (UserId, SessionId, String) {
    let user = UserRepository::create(&w.store, w.tenant.id, NewUser::new(name))
        .await
        .unwrap();
    let session = SessionStore::create(
        &w.store,
        NewSession {
            id: SessionId::generate(),
            tenant_id: w.tenant.id,
            user_id: user.id,
            auth_method: AuthMethod::LocalPassword,
            expires_at: Utc::now() + chrono::Duration::hours(1),
            ip: None,
            user_agent: None,
        },
    )
    .await
    .unwrap();
    let token = LocalTokenIssuer::new(local_config().with_access_ttl(ttl))
        .issue(&TokenRequest {
            user_id: user.id,
            tenant_id: w.tenant.id,
            session_id: session.id.clone(),
            roles: vec![],
        })
        .unwrap()
        .token;
    (user.id, session.id, token)
}

fn hits(w: &World) -> u64 {
    w.auth.cache_stats().unwrap().hits.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeat_is_a_hit_and_any_changed_byte_is_a_miss() {
    let w = world(TokenCacheConfig::default()).await;
    let token = w.fake.token().build();
    w.auth.authenticate(&token).await.unwrap();
    w.auth.authenticate(&token).await.unwrap();
    assert_eq!(hits(&w), 1);
    // One changed byte of the signature: a different token, verified, refused.
    let mut bytes = token.clone().into_bytes();
    let i = bytes.len() - 5;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    assert_eq!(
        w.auth.authenticate(&forged).await.unwrap_err().code(),
        "TOKEN_INVALID"
    );
    // A prefix or an extension of a cached token is not a cached token either.
    assert!(
        w.auth
            .authenticate(&token[..token.len() - 1])
            .await
            .is_err()
    );
    assert!(w.auth.authenticate(&format!("{token}A")).await.is_err());
    assert_eq!(hits(&w), 1);
    w.auth.authenticate(&token).await.unwrap();
    assert_eq!(hits(&w), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_whose_key_leaves_the_jwks_is_refused() {
    let w = world(TokenCacheConfig::default()).await;
    let k1 = w.fake.current_key();
    let k2 = w.fake.add_key("k2");
    let old = w.fake.token().signed_with(k1.clone()).build();
    let new = w.fake.token().signed_with(k2).build();
    w.auth.authenticate(&old).await.unwrap();
    w.auth.authenticate(&new).await.unwrap();
    // A refresh that changes nothing keeps the cache warm.
    w.auth.azure().unwrap().jwks().refresh().await.unwrap();
    let before = hits(&w);
    w.auth.authenticate(&old).await.unwrap();
    assert_eq!(hits(&w), before + 1, "unchanged keys keep their entries");
    // k1 is retired by the IdP.
    w.fake.remove_key(k1.kid());
    w.auth.azure().unwrap().jwks().refresh().await.unwrap();
    assert_eq!(
        w.auth.authenticate(&old).await.unwrap_err().code(),
        "TOKEN_INVALID"
    );
    w.auth
        .authenticate(&new)
        .await
        .expect("tokens of the remaining key still work");
}

#[tokio::test(flavor = "multi_thread")]
async fn revocations_apply_to_cached_tokens_at_once() {
    let w = world(TokenCacheConfig::default()).await;
    let (_, session, logout) = local_token(&w, "alice", Duration::from_secs(600)).await;
    let (bob, _, bob_token) = local_token(&w, "bob", Duration::from_secs(600)).await;
    let (_, _, carol_token) = local_token(&w, "carol", Duration::from_secs(600)).await;
    let azure = w.fake.token().build();
    for t in [&logout, &bob_token, &carol_token, &azure] {
        w.auth.authenticate(t).await.unwrap();
        w.auth.authenticate(t).await.unwrap();
    }
    w.guard.revoke_session(w.tenant.id, &session).await.unwrap();
    assert_eq!(
        w.auth.authenticate(&logout).await.unwrap_err().code(),
        "SESSION_REVOKED"
    );
    w.guard.revoke_user(w.tenant.id, bob).await.unwrap();
    assert_eq!(
        w.auth.authenticate(&bob_token).await.unwrap_err().code(),
        "SESSION_REVOKED"
    );
    w.auth.authenticate(&carol_token).await.unwrap();
    w.guard.revoke_tenant(w.tenant.id).await.unwrap();
    assert_eq!(
        w.auth.authenticate(&carol_token).await.unwrap_err().code(),
        "SESSION_REVOKED"
    );
    assert_eq!(
        w.auth.authenticate(&azure).await.unwrap_err().code(),
        "SESSION_REVOKED"
    );
}

/// The status the auth layer answers for `token` (its cached path answers without
/// awaiting, apart from `Authenticator::authenticate`'s; the same checks must hold there).
async fn through_layer(w: &World, token: &str) -> u16 {
    use tower::{Layer, ServiceExt};
    let ok = tower::service_fn(|_req: http::Request<String>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    });
    let req = http::Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    let res = erp_auth::AuthLayer::new(w.auth.clone())
        .layer(ok)
        .oneshot(req)
        .await
        .unwrap();
    res.status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_layer_answers_cached_tokens_with_every_check() {
    let w = world(TokenCacheConfig::default()).await;
    let (_, session, alice) = local_token(&w, "alice", Duration::from_secs(600)).await;
    let (bob, _, bob_token) = local_token(&w, "bob", Duration::from_secs(600)).await;
    let azure = w.fake.token().build();
    for t in [&alice, &bob_token, &azure] {
        assert_eq!(through_layer(&w, t).await, 200);
    }
    let before = hits(&w);
    for t in [&alice, &bob_token, &azure] {
        assert_eq!(through_layer(&w, t).await, 200);
    }
    assert_eq!(hits(&w) - before, 3, "answered from the cache");
    w.guard.revoke_session(w.tenant.id, &session).await.unwrap();
    assert_eq!(through_layer(&w, &alice).await, 401);
    w.guard.revoke_user(w.tenant.id, bob).await.unwrap();
    assert_eq!(through_layer(&w, &bob_token).await, 401);
    // A token whose key left the JWKS is verified afresh, and refused.
    let k1 = w.fake.current_key();
    let k2 = w.fake.add_key("k2");
    let old = w.fake.token().signed_with(k1.clone()).build();
    let new = w.fake.token().signed_with(k2).build();
    for t in [&old, &new, &old] {
        assert_eq!(through_layer(&w, t).await, 200);
    }
    w.fake.remove_key(k1.kid());
    w.auth.azure().unwrap().jwks().refresh().await.unwrap();
    assert_eq!(through_layer(&w, &old).await, 401);
    assert_eq!(through_layer(&w, &new).await, 200);
    // An Entra ID token signed out of (revoked until it expires; the fake's tokens share
    // one token id, so this one comes last).
    let (principal, claims) = w.auth.authenticate_with_claims(&new).await.unwrap();
    assert!(w.auth.revoke_token(&principal, &claims).await.unwrap());
    assert_eq!(through_layer(&w, &new).await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_expires_with_its_exp() {
    let w = world(TokenCacheConfig::default()).await;
    let (_, _, token) = local_token(&w, "alice", Duration::from_secs(1)).await;
    w.auth.authenticate(&token).await.unwrap();
    w.auth.authenticate(&token).await.unwrap();
    assert_eq!(hits(&w), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        w.auth.authenticate(&token).await.unwrap_err().code(),
        "TOKEN_EXPIRED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn role_changes_and_deactivation_reach_cached_tokens() {
    let w = world(TokenCacheConfig::default().with_user_ttl(Duration::from_millis(300))).await;
    let (user, _, token) = local_token(&w, "alice", Duration::from_secs(600)).await;
    assert!(w.auth.authenticate(&token).await.unwrap().roles.is_empty());
    UserRepository::set_roles(&w.store, w.tenant.id, user, &["admin".parse().unwrap()])
        .await
        .unwrap();
    // Explicit invalidation: at once.
    w.auth.invalidate_user(w.tenant.id, user);
    assert!(w.auth.authenticate(&token).await.unwrap().has_role("admin"));
    // Without it: after the user TTL.
    UserRepository::set_roles(&w.store, w.tenant.id, user, &[])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(w.auth.authenticate(&token).await.unwrap().roles.is_empty());
    UserRepository::deactivate(&w.store, w.tenant.id, user)
        .await
        .unwrap();
    w.auth.invalidate_user(w.tenant.id, user);
    assert_eq!(
        w.auth.authenticate(&token).await.unwrap_err().code(),
        "ACCOUNT_DISABLED"
    );
    assert!(
        w.auth
            .cache_stats()
            .unwrap()
            .refreshes
            .load(Ordering::Relaxed)
            >= 3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_distinct_tokens_stay_within_the_bound() {
    let w = world(TokenCacheConfig::default().with_max_entries(1000)).await;
    let user = UserRepository::create(&w.store, w.tenant.id, NewUser::new("many"))
        .await
        .unwrap();
    let issuer = LocalTokenIssuer::new(local_config());
    // Session checks are not what this test is about: use a guard-free authenticator.
    let auth = Authenticator::builder(UserResolver::new(
        Arc::new(w.store.clone()),
        Arc::new(w.store.clone()),
    ))
    .with_local(LocalJwtVerifier::new(local_config()))
    .with_token_cache(TokenCacheConfig::default().with_max_entries(1000))
    .build()
    .unwrap();
    for _ in 0..10_000 {
        let token = issuer
            .issue(&TokenRequest {
                user_id: user.id,
                tenant_id: w.tenant.id,
                session_id: SessionId::generate(),
                roles: vec![],
            })
            .unwrap()
            .token;
        auth.authenticate(&token).await.unwrap();
        assert!(auth.cached_tokens() <= 1000);
    }
    let stats = auth.cache_stats().unwrap();
    assert_eq!(stats.misses.load(Ordering::Relaxed), 10_000);
    assert!(stats.evictions.load(Ordering::Relaxed) >= 9_000);
    assert!(auth.cached_tokens() > 0);
}
