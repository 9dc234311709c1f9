//! `GET /metrics` through the router (`oneshot`): every family described from the first
//! scrape, requests counted under their route template, process metrics present.

use std::collections::HashMap;

use axum::{Router, body::Body};
use erp_server::{
    AppState,
    config::ServerConfig,
    observe::{exposition::HTTP_FAMILIES, process},
    router,
};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn app(dir: &std::path::Path) -> Router {
    let env: HashMap<&str, String> = HashMap::from([(
        "DATABASE_URL",
        format!("sqlite://{}", dir.join("erp.sqlite").display()),
    )]);
    let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.embedded_database = true;
    config.legacy_sqlite_path = Some(dir.join("legacy.sqlite"));
    router(AppState::build(config).await.unwrap())
}

async fn get(app: &Router, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let res = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the one sample named `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = text.lines().filter(|l| !l.starts_with('#')).filter(|l| {
        let Some(rest) = l.strip_prefix(name) else {
            return false;
        };
        let (set, _) = rest.rsplit_once(' ').unwrap_or_default();
        (set.is_empty() || set.starts_with('{'))
            && labels
                .iter()
                .all(|(k, v)| set.contains(&format!("{k}=\"{v}\"")))
    });
    let line = found.next()?;
    assert!(
        found.next().is_none(),
        "more than one sample matches: {text}"
    );
    line.rsplit_once(' ')?.1.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_scrape_describes_every_family() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let (status, headers, text) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let all = HTTP_FAMILIES
        .iter()
        .chain(erp_auth::metrics::FAMILIES)
        .chain(process::FAMILIES);
    for (name, kind, _) in all {
        assert_eq!(
            text.matches(&format!("\n# TYPE {name} {kind}\n")).count()
                + usize::from(text.starts_with(&format!("# TYPE {name} {kind}\n"))),
            1,
            "one TYPE line for {name}: {text}"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "HELP of {name}: {text}"
        );
    }
    // Samples that exist before any other traffic.
    assert!(
        sample(&text, "http_requests_in_flight", &[]).is_some(),
        "{text}"
    );
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(sample(&text, name, &[]).unwrap() > 0.0, "{name}: {text}");
    }
    assert!(
        sample(&text, "process_cpu_seconds_total", &[]).is_some(),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_counted_under_their_route_template() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let route = [
        ("method", "GET"),
        ("route", "/api/v1/mssql/clients/{code}"),
        ("status", "401"),
    ];
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    let (_, _, before) = get(&app, "/metrics").await;
    let count = |text: &str, labels: &[(&str, &str)]| {
        sample(text, "http_requests_total", labels).unwrap_or(0.0)
    };
    let observed = |text: &str, labels: &[(&str, &str)]| {
        sample(text, "http_request_duration_seconds_count", labels).unwrap_or(0.0)
    };

    // No token: the auth layer answers 401, still under the route's template.
    for code in ["C001", "C042"] {
        let (status, headers, _) = get(&app, &format!("/api/v1/mssql/clients/{code}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.contains_key("x-request-id"));
    }
    let (status, _, _) = get(&app, "/no/such/route/42").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, _, after) = get(&app, "/metrics").await;
    assert_eq!(
        count(&after, &route) - count(&before, &route),
        2.0,
        "{after}"
    );
    assert_eq!(
        observed(&after, &route) - observed(&before, &route),
        2.0,
        "{after}"
    );
    assert_eq!(
        count(&after, &unmatched) - count(&before, &unmatched),
        1.0,
        "{after}"
    );
    for raw in ["C001", "C042", "/no/such/route"] {
        assert!(!after.contains(raw), "raw path {raw} in a label: {after}");
    }
    // Sub-millisecond buckets.
    let le = [
        ("route", "/api/v1/mssql/clients/{code}"),
        ("status", "401"),
        ("le", "0.0001"),
    ];
    assert!(
        sample(&after, "http_request_duration_seconds_bucket", &le).is_some(),
        "{after}"
    );
    // The scrape itself was counted too, under its own template.
    let scrapes = [("route", "/metrics"), ("status", "200")];
    assert!(count(&after, &scrapes) >= 1.0, "{after}");
}

/// A method the route does not serve is answered 405 with `Allow`, and observed like the
/// route: a request id, counted under the route's template.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_methods_are_refused_and_observed() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path()).await;
    let labels = [("method", "PUT"), ("route", "/auth/me"), ("status", "405")];
    let count = |text: &str| sample(text, "http_requests_total", &labels).unwrap_or(0.0);
    let (_, _, before) = get(&app, "/metrics").await;
    let res = app
        .clone()
        .oneshot(
            Request::put("/auth/me")
                .header("x-request-id", "client-chosen-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET,HEAD");
    assert_eq!(res.headers()["x-request-id"], "client-chosen-1");
    let (_, _, after) = get(&app, "/metrics").await;
    assert_eq!(count(&after) - count(&before), 1.0, "{after}");
}
