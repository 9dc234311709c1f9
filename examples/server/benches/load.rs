//! Load test of the reference server: `GET /auth/me` with one repeated RS256 (Entra ID)
//! or HS256 (local) token and an unauthenticated route (`/auth/config`) of the same
//! server, next to a bare axum route returning a small JSON body (the baseline: what axum
//! and hyper cost alone). Each server runs on its own current-thread runtime (one worker),
//! the load generator on another thread, loopback only. The server logs as the binary
//! does by default (`RUST_LOG` unset: `info`), so trace spans cost what they cost there.
//!
//! `cargo bench -p erp-server --bench load` prints req/s and the ratio to the bare route.
//!
//! Two other modes, for tools outside the process:
//! - `ERP_BENCH_SERVE=bare|server`: serve one of the two on 127.0.0.1 (port printed,
//!   with the RS256 token) until killed, for `wrk` pinned with `taskset`;
//! - `ERP_BENCH_ONESHOT=bare|config|me` with `ERP_BENCH_REQUESTS=n`: drive `n` requests
//!   through the router in-process (`tower::ServiceExt::oneshot`, no sockets), for
//!   `valgrind --tool=callgrind` instruction counts per request.

use std::{collections::HashMap, net::SocketAddr};

use axum::{Json, Router, body::Body, routing::get};
use erp_auth::{
    login::LoginRequest,
    testkit::{
        FakeAzureAd,
        load::{Load, run},
    },
};
use erp_server::{AppState, config::ServerConfig, router};
use tower::ServiceExt;

/// The binary's allocator (see the `mimalloc` feature), for the baseline too: both sides
/// of the ratio allocate alike.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

/// The baseline: one axum 0.8 route answering a small JSON body, no middleware.
fn bare() -> Router {
    Router::new().route(
        "/bare",
        get(|| async { Json(serde_json::json!({ "status": "ok", "service": "bare" })) }),
    )
}

/// The reference server with Entra ID (the wiremock fake) and embedded SQLite; returns
/// the router, an RS256 token, an HS256 token and the fake (keep it alive).
async fn server(dir: &std::path::Path) -> (Router, String, String, FakeAzureAd) {
    let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
    let env: HashMap<&str, String> = HashMap::from([
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("erp.sqlite").display()),
        ),
        ("AZURE_CLIENT_ID", CLIENT_ID.into()),
        ("AZURE_TENANT_ID", TID.into()),
        ("AZURE_AUTHORITY_HOST", fake.authority_host()),
        ("AZURE_AUTO_PROVISION", "true".into()),
    ]);
    let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.embedded_database = true;
    config.legacy_sqlite_path = Some(dir.join("legacy.sqlite"));
    let state = AppState::build(config).await.unwrap();
    let hs256 = state
        .login
        .login(LoginRequest {
            username: "admin".into(),
            password: "admin123".into(),
            ..LoginRequest::default()
        })
        .await
        .unwrap()
        .access_token;
    (router(state), fake.token().build(), hs256, fake)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `app` on 127.0.0.1 from a new thread with its own one-worker runtime.
fn spawn_server(rt: tokio::runtime::Runtime, app: Router, as_binary: bool) -> SocketAddr {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"));
    let listener = listener.unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || rt.block_on(serve(listener, app, as_binary)));
    addr
}

/// Serves `app`: the bare route as a bare axum app is served, the reference server as the
/// `erp-server` binary serves it, with the peer address in every request (`ConnectInfo`,
/// read by the login rate limits).
async fn serve(listener: tokio::net::TcpListener, app: Router, as_binary: bool) {
    if as_binary {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    } else {
        axum::serve(listener, app).await.unwrap();
    }
}

#[allow(clippy::print_stdout)] // a measurement harness: printing is its output
fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    // Kept to the end: with OTEL_EXPORTER_OTLP_ENDPOINT set, its drop flushes the spans.
    let _telemetry = erp_server::logging::init().expect("telemetry settings");
    let dir = tempfile::tempdir().unwrap();
    if let Ok(which) = std::env::var("ERP_BENCH_ONESHOT") {
        let n: usize = std::env::var("ERP_BENCH_REQUESTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        return oneshot(&which, n, dir.path());
    }
    if let Ok(which) = std::env::var("ERP_BENCH_SERVE") {
        let rt = runtime();
        let (app, token) = match which.as_str() {
            "bare" => (bare(), String::new()),
            _ => {
                let (app, rs256, _, fake) = rt.block_on(server(dir.path()));
                std::mem::forget(fake); // serves the JWKS for as long as the process runs
                (app, rs256)
            }
        };
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        println!("listening on http://{}", listener.local_addr().unwrap());
        println!("token {token}");
        rt.block_on(serve(listener, app, which != "bare"));
        return;
    }

    let server_rt = runtime();
    let (app, rs256, hs256, fake) = server_rt.block_on(server(dir.path()));
    // The fake Entra ID runs on the server runtime: it answers the first JWKS fetch.
    let addr = spawn_server(server_rt, app, true);
    let bare_addr = spawn_server(runtime(), bare(), false);
    runtime().block_on(async {
        let load = Load::default();
        let base = run(bare_addr, "/bare", None, &load).await;
        println!(
            "bare axum route GET /bare               {:>9.0} req/s (100%)",
            base.per_second
        );
        let config = run(addr, "/auth/config", None, &load).await;
        println!(
            "unauthenticated GET /auth/config        {:>9.0} req/s ({:.0}% of bare)",
            config.per_second,
            100.0 * config.per_second / base.per_second
        );
        for (name, token) in [("RS256 (Entra ID)", &rs256), ("HS256 (local)   ", &hs256)] {
            let r = run(addr, "/auth/me", Some(token), &load).await;
            println!(
                "GET /auth/me, repeated {name} {:>9.0} req/s ({:.0}% of bare, {:.1}% 200)",
                r.per_second,
                100.0 * r.per_second / base.per_second,
                100.0 * r.ok_share
            );
        }
    });
    drop(fake);
}

/// `n` requests through the router in-process, after one warm-up request (JWKS fetch,
/// user provisioning, token cache fill), checking every answer is a 200.
fn oneshot(which: &str, n: usize, dir: &std::path::Path) {
    let rt = runtime();
    rt.block_on(async {
        let (app, path, token, _fake) = match which {
            "bare" => (bare(), "/bare", None, None),
            other => {
                let (app, rs256, _, fake) = server(dir).await;
                let path = if other == "me" {
                    "/auth/me"
                } else {
                    "/auth/config"
                };
                let token = (other == "me").then_some(rs256);
                (app, path, token, Some(fake))
            }
        };
        let auth = token.map(|t| http::HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
        for _ in 0..=n {
            let mut req = http::Request::get(path);
            if let Some(a) = &auth {
                req = req.header(http::header::AUTHORIZATION, a.clone());
            }
            let res = app
                .clone()
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let _ = http_body_util::BodyExt::collect(res.into_body()).await;
        }
    });
}
