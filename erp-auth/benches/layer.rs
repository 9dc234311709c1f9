//! Per-request cost of the auth layer next to a bare `jsonwebtoken::decode` of the same
//! token, with warm caches (keys fetched, user provisioned).
//!
//! `cargo bench -p erp-auth --bench layer` (the scope and app-role guards on the cached
//! hot path: `cargo bench -p erp-auth --bench layer -- guards`)

use std::{convert::Infallible, sync::Arc};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use erp_auth::{
    AuthLayer, Authenticator,
    azure::AzureAdVerifier,
    local::{KeyRing, LocalJwtConfig, LocalJwtVerifier, LocalTokenIssuer, TokenRequest},
    require_app_role, require_role, require_scope,
    resolve::UserResolver,
    session::SessionGuard,
    testkit::FakeAzureAd,
    token_cache::TokenCacheConfig,
};
use erp_core::{
    AuthMethod, NewSession, NewTenant, NewUser, SessionId, SessionStore, TenantRepository,
    UserRepository, memory::MemoryStore,
};
use http::{HeaderValue, Request, Response, header::AUTHORIZATION};
use http_body_util::Empty;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tower::{Layer, ServiceExt, service_fn};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const SECRET: &[u8] = b"local-secret-for-benches-0123456789abcdef";

/// What a typical hand-written middleware decodes.
#[derive(Deserialize)]
#[allow(dead_code)]
struct BareClaims {
    iss: String,
    aud: serde_json::Value,
    exp: i64,
    sub: String,
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scp: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

struct Setup {
    _fake: FakeAzureAd,
    auth: Authenticator,
    /// With the verified-token cache and the session guard, as a deployment runs it.
    cached: Authenticator,
    rs256: String,
    /// An Entra ID token with a scope and an app role, for the guard benches.
    guarded: String,
    rs256_key: DecodingKey,
    rs256_issuer: String,
    hs256: String,
}

async fn setup() -> Setup {
    let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
    let store = MemoryStore::new();
    let tenant = TenantRepository::create(
        &store,
        NewTenant::new("contoso", "Contoso").with_azure_tenant_id(TID),
    )
    .await
    .unwrap();
    let user = UserRepository::create(&store, tenant.id, NewUser::new("bench-user"))
        .await
        .unwrap();
    let local = LocalJwtConfig::new(KeyRing::new("k1", SECRET).unwrap());
    let resolver = UserResolver::new(Arc::new(store.clone()), Arc::new(store.clone()))
        .with_auto_provision(true)
        .with_role_mapper(erp_auth::resolve::RoleMapper::parse("Sync.Run=admin").unwrap());
    let azure = AzureAdVerifier::start(fake.config()).await.unwrap();
    let auth = Authenticator::builder(resolver.clone())
        .with_azure(azure.clone())
        .with_local(LocalJwtVerifier::new(local.clone()))
        .build()
        .unwrap();
    let cached = Authenticator::builder(resolver)
        .with_azure(azure)
        .with_local(LocalJwtVerifier::new(local.clone()))
        .with_sessions(SessionGuard::new(Arc::new(store.clone())))
        .with_token_cache(TokenCacheConfig::default())
        .build()
        .unwrap();
    let rs256 = fake.token().build();
    // First use provisions the Azure user; the bench measures the steady state.
    auth.authenticate(&rs256).await.unwrap();
    let session = SessionStore::create(
        &store,
        NewSession {
            id: SessionId::generate(),
            tenant_id: tenant.id,
            user_id: user.id,
            auth_method: AuthMethod::LocalPassword,
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            ip: None,
            user_agent: None,
        },
    )
    .await
    .unwrap();
    let hs256 = LocalTokenIssuer::new(local)
        .issue(&TokenRequest {
            user_id: user.id,
            tenant_id: tenant.id,
            session_id: session.id,
            roles: vec![],
        })
        .unwrap()
        .token;
    auth.authenticate(&hs256).await.unwrap();
    cached.authenticate(&rs256).await.unwrap();
    cached.authenticate(&hs256).await.unwrap();
    let guarded = fake
        .token()
        .claim("scp", "access_as_user Books.Read")
        .claim("roles", serde_json::json!(["Sync.Run"]))
        .build();
    cached.authenticate(&guarded).await.unwrap();
    let (n, e) = fake.current_key().components();
    Setup {
        rs256_key: DecodingKey::from_rsa_components(&n, &e).unwrap(),
        rs256_issuer: fake.v2_issuer(TID),
        _fake: fake,
        auth,
        cached,
        rs256,
        guarded,
        hs256,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(setup());
    let inner = || {
        service_fn(|_req: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        })
    };
    let service = AuthLayer::new(s.auth.clone()).layer(inner());
    let cached_service = AuthLayer::new(s.cached.clone()).layer(inner());

    let mut rs_validation = Validation::new(Algorithm::RS256);
    rs_validation.set_audience(&[CLIENT_ID]);
    rs_validation.set_issuer(&[s.rs256_issuer.as_str()]);
    let mut hs_validation = Validation::new(Algorithm::HS256);
    hs_validation.set_audience(&["erp-api"]);
    hs_validation.set_issuer(&["erp-toolkit"]);
    let hs_key = DecodingKey::from_secret(SECRET);

    for (name, token, key, validation) in [
        ("rs256", &s.rs256, &s.rs256_key, &rs_validation),
        ("hs256", &s.hs256, &hs_key, &hs_validation),
    ] {
        let mut group = c.benchmark_group(name);
        group.bench_function("bare_jsonwebtoken_decode", |b| {
            b.iter(|| jsonwebtoken::decode::<BareClaims>(token, key, validation).unwrap())
        });
        for (bench, auth) in [
            ("authenticator", &s.auth),
            ("authenticator_cached", &s.cached),
        ] {
            group.bench_function(bench, |b| {
                b.to_async(&rt)
                    .iter(|| async { auth.authenticate(token).await.unwrap() })
            });
        }
        let header = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        for (bench, service) in [("layer", &service), ("layer_cached", &cached_service)] {
            group.bench_function(bench, |b| {
                b.to_async(&rt).iter_batched(
                    || {
                        let req = Request::builder()
                            .header(AUTHORIZATION, header.clone())
                            .body(())
                            .unwrap();
                        (service.clone(), req)
                    },
                    |(svc, req)| async move {
                        let res = svc.oneshot(req).await.unwrap();
                        assert_eq!(res.status(), 200);
                    },
                    BatchSize::SmallInput,
                )
            });
        }
        group.finish();
    }

    // The guards on the cached hot path: the same cached Entra ID token through the layer
    // alone and with each guard inside it (issue 15: no measurable cost).
    let header = HeaderValue::from_str(&format!("Bearer {}", s.guarded)).unwrap();
    let mut group = c.benchmark_group("guards");
    let plain = AuthLayer::new(s.cached.clone()).layer(inner());
    let scope = AuthLayer::new(s.cached.clone()).layer(require_scope("Books.Read").layer(inner()));
    let app_role =
        AuthLayer::new(s.cached.clone()).layer(require_app_role("Sync.Run").layer(inner()));
    let role = AuthLayer::new(s.cached.clone()).layer(require_role("admin").layer(inner()));
    macro_rules! guarded {
        ($name:expr, $service:expr) => {
            let service = $service;
            group.bench_function($name, |b| {
                b.to_async(&rt).iter_batched(
                    || {
                        let req = Request::builder()
                            .header(AUTHORIZATION, header.clone())
                            .body(())
                            .unwrap();
                        (service.clone(), req)
                    },
                    |(svc, req)| async move {
                        let res = svc.oneshot(req).await.unwrap();
                        assert_eq!(res.status(), 200);
                    },
                    BatchSize::SmallInput,
                )
            });
        };
    }
    guarded!("layer_cached", &plain);
    guarded!("layer_cached_require_scope", &scope);
    guarded!("layer_cached_require_app_role", &app_role);
    guarded!("layer_cached_require_role", &role);
    // The guards' own work, without the service around them.
    let (principal, claims) = rt
        .block_on(s.cached.authenticate_with_claims(&s.guarded))
        .unwrap();
    let scope_rule = require_scope("Books.Read");
    let app_role_rule = require_app_role("Sync.Run");
    group.bench_function("check_scope", |b| {
        b.iter(|| scope_rule.check(Some(&principal), Some(&claims)).unwrap())
    });
    group.bench_function("check_app_role", |b| {
        b.iter(|| {
            app_role_rule
                .check(Some(&principal), Some(&claims))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
