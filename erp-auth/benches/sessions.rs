//! The cached revocation checks on the request path: sessions and watermarks
//! (`session_guard`), and revoked Entra ID token ids (`token_guard`).
//!
//! `cargo bench -p erp-auth --bench sessions`

use std::sync::Arc;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use erp_auth::session::{SessionGuard, TokenRevocationGuard};
use erp_core::{
    AuthMethod, NewSession, NewTenant, NewUser, Principal, SessionId, SessionStore,
    TenantRepository, TokenRevocationStore, UserRepository, memory::MemoryStore,
};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (guard, tokens, local, azure) = rt.block_on(async {
        let store = MemoryStore::new();
        let tenant = TenantRepository::create(&store, NewTenant::new("t", "T"))
            .await
            .unwrap();
        let user = UserRepository::create(&store, tenant.id, NewUser::new("u"))
            .await
            .unwrap();
        let session = SessionStore::create(
            &store,
            NewSession {
                id: SessionId::generate(),
                tenant_id: tenant.id,
                user_id: user.id,
                auth_method: AuthMethod::LocalPassword,
                expires_at: Utc::now() + chrono::Duration::hours(1),
                ip: None,
                user_agent: None,
            },
        )
        .await
        .unwrap();
        // Some unrelated revocations so the watermark maps are not empty.
        store
            .revoke_tenant(
                TenantRepository::create(&store, NewTenant::new("x", "X"))
                    .await
                    .unwrap()
                    .id,
                Utc::now(),
            )
            .await
            .unwrap();
        // Some revoked tokens, so the token map is not empty either.
        for i in 0..1000 {
            store
                .revoke_token(
                    tenant.id,
                    &format!("revoked-{i}"),
                    user.id,
                    Utc::now() + chrono::Duration::hours(1),
                    Utc::now(),
                )
                .await
                .unwrap();
        }
        let tokens = TokenRevocationGuard::new(Arc::new(store.clone()));
        tokens
            .check(tenant.id, "Xq0pS2vLkUi3nV9d-7dFAA")
            .await
            .unwrap();
        let guard = SessionGuard::new(Arc::new(store));
        let local = Principal {
            user_id: user.id,
            kind: erp_core::PrincipalKind::User,
            tenant_id: tenant.id,
            username: "u".into(),
            display_name: None,
            email: None,
            roles: vec![],
            auth_method: AuthMethod::LocalJwt,
            session_id: Some(session.id),
            issued_at: Some(Utc::now()),
            expires_at: None,
        };
        let azure = Principal {
            session_id: None,
            auth_method: AuthMethod::AzureAd,
            ..local.clone()
        };
        // Warm the cache.
        guard.check(&local).await.unwrap();
        guard.check(&azure).await.unwrap();
        (guard, tokens, local, azure)
    });
    let mut group = c.benchmark_group("session_guard");
    group.bench_function("check_cached_session", |b| {
        b.to_async(&rt)
            .iter(|| async { guard.check(&local).await.unwrap() })
    });
    group.bench_function("check_cached_watermarks_only", |b| {
        b.to_async(&rt)
            .iter(|| async { guard.check(&azure).await.unwrap() })
    });
    group.finish();
    // What an Entra ID request adds on top of check_cached_watermarks_only.
    let mut group = c.benchmark_group("token_guard");
    let tenant = azure.tenant_id;
    group.bench_function("check_cached_token_id", |b| {
        b.to_async(&rt).iter(|| async {
            tokens
                .check(tenant, "Xq0pS2vLkUi3nV9d-7dFAA")
                .await
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
