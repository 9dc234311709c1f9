//! Loopback load test: `GET /auth/me` with one repeated token next to an unauthenticated
//! route of the same axum server. The server runs on one thread (one core), the load
//! generator on another: 64 keep-alive connections, 5 s per scenario after 1 s warm-up.
//! Traffic stays on 127.0.0.1 and stops by itself.
//!
//! `cargo bench -p erp-auth --bench load`

use std::sync::Arc;

use axum::{Json, Router, routing::get};
use erp_auth::{
    AuthLayer, Authenticated, Authenticator, azure::AzureAdVerifier, resolve::UserResolver,
    session::SessionGuard, testkit::FakeAzureAd, token_cache::TokenCacheConfig,
};
use erp_core::{NewTenant, TenantRepository, memory::MemoryStore};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

async fn load(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> (f64, f64) {
    let r =
        erp_auth::testkit::load::run(addr, path, auth, &erp_auth::testkit::load::Load::default())
            .await;
    (r.per_second, r.ok_share)
}

#[allow(clippy::print_stdout)] // a measurement harness: printing is its output
fn main() {
    // The server: one thread.
    let server_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, token, _fake) = server_rt.block_on(async {
        let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
        let store = MemoryStore::new();
        TenantRepository::create(
            &store,
            NewTenant::new("contoso", "Contoso").with_azure_tenant_id(TID),
        )
        .await
        .unwrap();
        let resolver = UserResolver::new(Arc::new(store.clone()), Arc::new(store.clone()))
            .with_auto_provision(true);
        let azure = AzureAdVerifier::start(fake.config()).await.unwrap();
        let build = |cache: bool| {
            let mut b = Authenticator::builder(resolver.clone())
                .with_azure(azure.clone())
                .with_sessions(SessionGuard::new(Arc::new(store.clone())));
            if cache {
                b = b.with_token_cache(TokenCacheConfig::default());
            }
            b.build().unwrap()
        };
        let me = || get(|Authenticated(p): Authenticated| async move { Json(p) });
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .merge(
                Router::new()
                    .route("/auth/me", me())
                    .layer(AuthLayer::new(build(true))),
            )
            .merge(
                Router::new()
                    .route("/auth/me-uncached", me())
                    .layer(AuthLayer::new(build(false))),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (addr, fake.token().build(), fake)
    });
    let server = std::thread::spawn(move || server_rt.block_on(std::future::pending::<()>()));
    // The load generator: another thread.
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(async {
        let (health, _) = load(addr, "/health", None).await;
        let (cached, ok1) = load(addr, "/auth/me", Some(&token)).await;
        let (uncached, ok2) = load(addr, "/auth/me-uncached", Some(&token)).await;
        println!("unauthenticated GET /health                  {health:>9.0} req/s");
        println!(
            "GET /auth/me, repeated RS256 token, cached   {cached:>9.0} req/s ({:.0}% of /health, {:.1}% 200)",
            100.0 * cached / health,
            100.0 * ok1
        );
        println!(
            "GET /auth/me, repeated RS256 token, no cache {uncached:>9.0} req/s ({:.0}% of /health, {:.1}% 200)",
            100.0 * uncached / health,
            100.0 * ok2
        );
    });
    drop(server);
}
