//! The cached revocation check on the request path.
//!
//! `cargo bench -p erp-auth --bench sessions`

use std::sync::Arc;

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use erp_auth::session::SessionGuard;
use erp_core::{
    AuthMethod, NewSession, NewTenant, NewUser, Principal, SessionId, SessionStore,
    TenantRepository, UserRepository, memory::MemoryStore,
};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (guard, local, azure) = rt.block_on(async {
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
        (guard, local, azure)
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
