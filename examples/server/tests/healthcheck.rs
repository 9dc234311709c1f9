//! The image's health probe: the Dockerfile's exact `HEALTHCHECK` command line, run
//! against a running server, a server that says it is down, and nothing at all.

use std::{net::SocketAddr, process::Output};

use axum::{Router, http::StatusCode, routing::get};
use erp_server::{AppState, config::ServerConfig, router};

/// The HEALTHCHECK's exec-form `CMD [...]`, and the path the image installs the binary at.
fn dockerfile_probe() -> Vec<String> {
    let dockerfile = include_str!("../../../Dockerfile");
    let line = dockerfile
        .lines()
        .find(|l| l.starts_with("HEALTHCHECK"))
        .expect("the Dockerfile has a HEALTHCHECK");
    let (_, cmd) = line.split_once(" CMD ").expect("HEALTHCHECK ... CMD [..]");
    let argv: Vec<String> = serde_json::from_str(cmd.trim())
        .unwrap_or_else(|e| panic!("HEALTHCHECK is not in exec form ({e}): {line}"));
    let entrypoint = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .expect("the Dockerfile has an ENTRYPOINT");
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint.trim()).unwrap();
    assert_eq!(
        argv[0], entrypoint[0],
        "the probe runs the binary the image installs"
    );
    argv
}

/// Runs the probe as the image would, with this build's binary at the image's path and
/// `ERP_BIND` as the server was told (the image binds the wildcard address).
async fn probe(bind: &str) -> Output {
    probe_with(bind, &[]).await
}

async fn probe_with(bind: &str, extra: &[&str]) -> Output {
    let mut argv = dockerfile_probe();
    argv.extend(extra.iter().map(|s| (*s).to_owned()));
    let bind = bind.to_owned();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_erp-server"))
            .args(&argv[1..])
            .env("ERP_BIND", bind)
            // Settings the probe must not need.
            .env_remove("DATABASE_URL")
            .env("ERP_ENV", "production")
            .current_dir(env!("CARGO_TARGET_TMPDIR"))
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn healthcheck_passes_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("erp.sqlite").display());
    let mut config = ServerConfig::from_lookup(|k| match k {
        "DATABASE_URL" => Some(db.clone()),
        _ => None,
    })
    .unwrap();
    config.embedded_database = true;
    config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
    let addr = serve(router(AppState::build(config).await.unwrap())).await;
    let out = probe(&format!("0.0.0.0:{}", addr.port())).await;
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn healthcheck_fails_when_nothing_listens() {
    // A socket bound but never listening holds its port for this test (a freed port
    // could be taken by another test's server meanwhile) and refuses every connection.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let out = probe(&addr.to_string()).await;
    drop(socket);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

#[tokio::test]
async fn healthcheck_fails_when_the_server_reports_down() {
    let down = Router::new().route(
        "/health",
        get(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "down"})),
            )
        }),
    );
    let addr = serve(down).await;
    let out = probe(&addr.to_string()).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("503") && stderr.contains("down"),
        "{stderr}"
    );
}

#[tokio::test]
async fn healthcheck_times_out_on_a_silent_server() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let out = probe_with(&addr.to_string(), &["--timeout", "0.5"]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no answer within 500ms"), "{stderr}");
}
