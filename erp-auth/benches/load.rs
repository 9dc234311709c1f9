//! Loopback load test: `GET /auth/me` with one repeated token next to an unauthenticated
//! route of the same axum server. The server runs on one thread (one core), the load
//! generator on another: 64 keep-alive connections, 5 s per scenario after 1 s warm-up.
//! Traffic stays on 127.0.0.1 and stops by itself.
//!
//! `cargo bench -p erp-auth --bench load`

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, routing::get};
use erp_auth::{
    AuthLayer, Authenticated, Authenticator, azure::AzureAdVerifier, cache::TokenCacheConfig,
    resolve::UserResolver, session::SessionGuard, testkit::FakeAzureAd,
};
use erp_core::{NewTenant, TenantRepository, memory::MemoryStore};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const CONNECTIONS: usize = 64;
const WARMUP: Duration = Duration::from_secs(1);
const MEASURE: Duration = Duration::from_secs(5);
const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

/// Reads one HTTP/1.1 response with a Content-Length body; returns the status.
async fn read_response(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<u16> {
    let mut line = String::new();
    reader.read_line(&mut line).await.ok()?;
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(status)
}

/// Requests per second for `path` with `auth`, and the share of 200 answers.
async fn load(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> (f64, f64) {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n");
    if let Some(token) = auth {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    let request: Arc<[u8]> = request.into_bytes().into();
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, all) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (request, counting, stop, ok, all) = (
            Arc::clone(&request),
            Arc::clone(&counting),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&all),
        );
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).ok();
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            while !stop.load(Ordering::Relaxed) {
                write.write_all(&request).await.expect("write");
                let Some(status) = read_response(&mut reader).await else {
                    break;
                };
                if counting.load(Ordering::Relaxed) {
                    all.fetch_add(1, Ordering::Relaxed);
                    if status == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(WARMUP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(MEASURE).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let all = all.load(Ordering::Relaxed) as f64;
    (
        all / elapsed,
        ok.load(Ordering::Relaxed) as f64 / all.max(1.0),
    )
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
