//! Load test of the reference server: `GET /auth/me` with one repeated RS256 (Entra ID)
//! or HS256 (local) token, next to an unauthenticated route (`/auth/config`) of the same
//! server. Server on one thread, load generator on another, loopback only.
//!
//! `cargo bench -p erp-server --bench load`

use std::collections::HashMap;

use erp_auth::{
    login::LoginRequest,
    testkit::{
        FakeAzureAd,
        load::{Load, run},
    },
};
use erp_server::{AppState, config::ServerConfig, router};

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

#[allow(clippy::print_stdout)] // a measurement harness: printing is its output
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let server_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (addr, rs256, hs256, _fake) = server_rt.block_on(async {
        let fake = FakeAzureAd::start(TID, CLIENT_ID).await;
        let env: HashMap<&str, String> = HashMap::from([
            (
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("erp.sqlite").display()),
            ),
            ("AZURE_CLIENT_ID", CLIENT_ID.into()),
            ("AZURE_TENANT_ID", TID.into()),
            ("AZURE_AUTHORITY_HOST", fake.authority_host()),
            ("AZURE_AUTO_PROVISION", "true".into()),
            ("RUST_LOG", "off".into()),
        ]);
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.embedded_database = true;
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
        (addr, fake.token().build(), hs256, fake)
    });
    let server = std::thread::spawn(move || server_rt.block_on(std::future::pending::<()>()));
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client.block_on(async {
        let load = Load::default();
        let base = run(addr, "/auth/config", None, &load).await;
        println!("unauthenticated GET /auth/config        {:>9.0} req/s", base.per_second);
        for (name, token) in [("RS256 (Entra ID)", &rs256), ("HS256 (local)   ", &hs256)] {
            let r = run(addr, "/auth/me", Some(token), &load).await;
            println!(
                "GET /auth/me, repeated {name} {:>9.0} req/s ({:.0}% of unauthenticated, {:.1}% 200)",
                r.per_second,
                100.0 * r.per_second / base.per_second,
                100.0 * r.ok_share
            );
        }
    });
    drop(server);
}
