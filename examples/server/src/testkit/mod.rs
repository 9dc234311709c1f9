//! Test helpers (feature `testkit`) shared by the server's and the workspace's tests:
//! one request through the router with `tower::ServiceExt::oneshot`, and a PostgreSQL
//! schema per test ([`pg`]).

use axum::{Router, body::Body};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub mod pg;

pub use pg::PgSchema;

/// Sends `method path` through `app`, with `Authorization: Bearer <token>` and a JSON
/// `body` when given, and returns the status, the body (JSON, or the text as a JSON
/// string when it is not JSON) and the headers.
///
/// # Panics
/// If the request cannot be built (an invalid method or path) or the body not read:
/// a broken test, not a server answer.
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, HeaderMap) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .expect("a valid request");
    send(app, req).await
}

/// Sends a request built by the test (extra headers, raw bodies) through `app` and
/// returns what [`call`] returns.
///
/// # Panics
/// If the body cannot be read: a broken test, not a server answer.
pub async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Value, HeaderMap) {
    let res = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router is infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res
        .into_body()
        .collect()
        .await
        .expect("a readable body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json, headers)
}
