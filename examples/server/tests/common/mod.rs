//! Helpers shared by the server's integration tests (each test file includes this module
//! with `mod common;` and uses what it needs).
#![allow(dead_code, unreachable_pub)]

pub use erp_server::testkit::PgSchema;

/// [`erp_server::testkit::call`] without the headers.
pub async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (http::StatusCode, serde_json::Value) {
    let (status, body, _) = erp_server::testkit::call(app, method, path, token, body).await;
    (status, body)
}
