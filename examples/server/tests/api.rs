//! The reference server's routes through the router (`oneshot`), on an embedded
//! database with the development seed and the sample legacy data.

use std::collections::HashMap;

use axum::{Router, body::Body};
use erp_server::{
    AppState,
    config::ServerConfig,
    router,
    testkit::{call, send},
};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Server {
    app: Router,
    _dir: tempfile::TempDir,
}

/// The configuration of a server whose files are in `dir`.
fn config(dir: &std::path::Path) -> ServerConfig {
    let env: HashMap<&str, String> = HashMap::from([
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("erp.sqlite").display()),
        ),
        ("SESSION_COOKIE_SECURE", "false".into()),
    ]);
    let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    // As without DATABASE_URL: seeded development users, sample legacy data.
    config.embedded_database = true;
    config.legacy_sqlite_path = Some(dir.join("legacy.sqlite"));
    config
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::build(config(dir.path())).await.unwrap();
    Server {
        app: router(state),
        _dir: dir,
    }
}

async fn login(app: &Router, user: &str, password: &str) -> Value {
    let (status, body, _) = call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": user, "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn login_me_sessions_refresh_logout() {
    let s = server().await;
    let (status, cfg, _) = call(&s.app, "GET", "/auth/config", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cfg["msal"]["enabled"], false);
    assert_eq!(cfg["login_modes"], json!(["local"]));

    let (status, body, headers) = call(
        &s.app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "admin", "password": "admin123"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["display_name"], "Administrator");
    assert_eq!(body["token_type"], "Bearer");
    let cookies: Vec<_> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("erp_session=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    let token = body["access_token"].as_str().unwrap().to_owned();

    let (status, me, _) = call(&s.app, "GET", "/auth/me", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "admin");
    assert_eq!(me["roles"], json!(["admin"]));
    assert_eq!(me["auth_method"], "local_jwt");

    let (_, sessions, _) = call(&s.app, "GET", "/auth/sessions", Some(&token), None).await;
    assert_eq!(sessions["items"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["items"][0]["current"], true);

    let (status, refreshed, _) = call(
        &s.app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": body["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    // The same token again at once (a second tab): within REFRESH_TOKEN_REUSE_INTERVAL.
    let (status, tab, _) = call(
        &s.app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": body["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tab}");
    assert_eq!(tab["session_id"], refreshed["session_id"]);
    let (status, rotated, _) = call(
        &s.app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": refreshed["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    // Now the first token is an older ancestor: replaying it is theft.
    let (status, reuse, _) = call(
        &s.app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": body["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reuse}");
    assert_eq!(
        reuse["code"], "SESSION_REVOKED",
        "reuse revokes the session"
    );

    let second = login(&s.app, "admin", "admin123").await;
    let t2 = second["access_token"].as_str().unwrap().to_owned();
    let (status, out, headers) = call(&s.app, "POST", "/auth/logout", Some(&t2), None).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert!(
        headers
            .get_all("set-cookie")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Max-Age=0"))
    );
    let (status, gone, _) = call(&s.app, "GET", "/auth/me", Some(&t2), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(gone["code"], "SESSION_REVOKED");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_problem_json_with_stable_codes() {
    let s = server().await;
    let (status, body, headers) = call(
        &s.app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "admin", "password": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "INVALID_CREDENTIALS");
    assert_eq!(headers["content-type"], "application/problem+json");
    let (status, body, _) = call(
        &s.app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"user": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "VALIDATION_FAILED");
    let (status, body, headers) = call(&s.app, "GET", "/auth/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "TOKEN_INVALID");
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, _) = call(&s.app, "GET", "/auth/me", Some("garbage"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A non-admin on admin routes.
    let pic = login(&s.app, "pic1", "pic123").await;
    let t = pic["access_token"].as_str().unwrap();
    let (status, body, _) = call(&s.app, "POST", "/api/v1/mssql/sync", Some(t), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_routes_and_sync() {
    let s = server().await;
    let admin = login(&s.app, "admin", "admin123").await;
    let t = admin["access_token"].as_str().unwrap();
    let (status, page, _) = call(
        &s.app,
        "GET",
        "/api/v1/mssql/clients?q=acme&page=1&page_size=10",
        Some(t),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["code"], "C001");
    let (status, c, _) = call(&s.app, "GET", "/api/v1/mssql/clients/C002", Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["name"], "劉氏貿易有限公司");
    let (status, body, _) = call(&s.app, "GET", "/api/v1/mssql/clients/NOPE", Some(t), None).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::NOT_FOUND, json!("NOT_FOUND"))
    );
    let (status, rec, _) = call(&s.app, "GET", "/api/v1/mssql/clearance/1", Some(t), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rec["customs_value"], "12345.6789",
        "exact decimal as a string"
    );
    for bad in [
        "/api/v1/mssql/clearance/abc",
        "/api/v1/mssql/clearance/-1",
        "/api/v1/mssql/shipments",
        "/api/v1/mssql/clients?page=x",
    ] {
        let (status, body, _) = call(&s.app, "GET", bad, Some(t), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["code"], "VALIDATION_FAILED");
    }
    let (status, ships, _) = call(
        &s.app,
        "GET",
        "/api/v1/mssql/shipments?client=C001",
        Some(t),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ships["total"], 2);
    let (status, report, _) = call(&s.app, "POST", "/api/v1/mssql/sync", Some(t), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 5 + 4 + 3);
    let (_, again, _) = call(&s.app, "POST", "/api/v1/mssql/sync", Some(t), None).await;
    let rows: u64 = again["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 0, "idempotent");
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_schema_mismatch_stops_the_start_or_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    let mismatched = || {
        let mut config = config(dir.path());
        config.legacy_mapping.clients.code = "cust_code".into();
        config
    };
    // Strict (the default): the start fails, naming the column.
    let err = AppState::build(mismatched()).await.unwrap_err().to_string();
    assert!(
        err.contains("column clients.cust_code does not exist"),
        "{err}"
    );
    // Warn: it starts; /health names the column; the legacy routes answer 503.
    let mut warn = mismatched();
    warn.legacy_schema_check = erp_server::config::SchemaCheck::Warn;
    let app = router(AppState::build(warn).await.unwrap());
    let (status, health, _) = call(&app, "GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["checks"]["legacy"]["status"], "down");
    assert_eq!(
        health["checks"]["legacy"]["missing"],
        json!(["column clients.cust_code does not exist"])
    );
    let admin = login(&app, "admin", "admin123").await;
    let t = admin["access_token"].as_str().unwrap();
    for path in [
        "/api/v1/mssql/clients",
        "/api/v1/mssql/clients/C001",
        "/api/v1/mssql/clearance/1",
        "/api/v1/mssql/shipments?client=C001",
    ] {
        let (status, body, headers) = call(&app, "GET", path, Some(t), None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["code"], "LEGACY_DB_UNAVAILABLE");
        assert_eq!(headers["content-type"], "application/problem+json");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics() {
    let s = server().await;
    let (status, health, _) = call(&s.app, "GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["checks"]["database"]["backend"], "sqlite");
    assert_eq!(health["checks"]["legacy"]["status"], "ok");
    let _ = login(&s.app, "admin", "admin123").await;
    let (status, text, headers) = call(&s.app, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        text.as_str().unwrap().contains("erp_auth_logins_total"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_revocation_of_a_user() {
    let s = server().await;
    let admin = login(&s.app, "admin", "admin123").await;
    let acct = login(&s.app, "accountant1", "account123").await;
    let at = acct["access_token"].as_str().unwrap();
    let user = acct["user"]["id"].as_str().unwrap();
    assert_eq!(
        call(&s.app, "GET", "/auth/me", Some(at), None).await.0,
        StatusCode::OK
    );
    let (status, body, _) = call(
        &s.app,
        "POST",
        &format!("/admin/users/{user}/sessions/revoke"),
        Some(admin["access_token"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_sessions"], 1);
    assert_eq!(
        call(&s.app, "GET", "/auth/me", Some(at), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let other_tenant = "00000000-0000-0000-0000-000000000001";
    let (status, _, _) = call(
        &s.app,
        "POST",
        &format!("/admin/tenants/{other_tenant}/sessions/revoke"),
        Some(admin["access_token"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another tenant");
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_documents_every_route_and_error() {
    let s = server().await;
    let (status, doc, _) = call(&s.app, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in erp_server::ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} has no responses"
        );
    }
    assert_eq!(
        doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum::<usize>(),
        erp_server::ROUTES.len(),
        "no undocumented extras, no stale entries"
    );
    // Every route in ROUTES is really served (not 404/405).
    for (method, path) in erp_server::ROUTES {
        let concrete = path
            .replace("{jti}", "0123456789abcdef0123")
            .replace("{id}", "1")
            .replace("{code}", "C001");
        let (status, _, _) = call(&s.app, &method.to_uppercase(), &concrete, None, None).await;
        assert!(
            status != StatusCode::NOT_FOUND
                || concrete.contains("/clients/")
                || concrete.contains("/clearance/"),
            "{method} {path}: {status}"
        );
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    let codes = doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap();
    for code in [
        "INVALID_CREDENTIALS",
        "TOKEN_EXPIRED",
        "TOKEN_INVALID",
        "SESSION_REVOKED",
        "FORBIDDEN",
        "RATE_LIMITED",
        "UPSTREAM_UNAVAILABLE",
        "LEGACY_DB_UNAVAILABLE",
        "VALIDATION_FAILED",
        "NOT_FOUND",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_and_cors() {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("erp.sqlite").display()),
        ),
        (
            "ALLOWED_ORIGINS",
            "https://erp.example, https://admin.erp.example".into(),
        ),
    ]);
    let config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    let app = router(AppState::build(config).await.unwrap());
    let (_, _, headers) = call(&app, "GET", "/health", None, None).await;
    let (_, _, again) = call(&app, "GET", "/health", None, None).await;
    let ids = [&headers, &again].map(|h| h["x-request-id"].to_str().unwrap().to_owned());
    // A process prefix (16 hex digits) and a counter: fresh on every request.
    assert_ne!(ids[0], ids[1]);
    for id in &ids {
        let (prefix, n) = id.split_once('-').unwrap();
        assert_eq!(prefix.len(), 16, "{id}");
        assert!(u64::from_str_radix(prefix, 16).is_ok() && u64::from_str_radix(n, 16).is_ok());
    }
    let res = app
        .clone()
        .oneshot(
            Request::get("/health")
                .header("x-request-id", "abc-123")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"],
        "abc-123",
        "kept from the client"
    );
    let preflight = |origin: &'static str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/auth/me")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let ok = app
        .clone()
        .oneshot(preflight("https://erp.example"))
        .await
        .unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://erp.example"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = app
        .clone()
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

/// The sign-in page loads msal-browser from this server only, under a CSP that allows no
/// inline script and no third-party origin but the configured authority.
#[tokio::test(flavor = "multi_thread")]
async fn the_sign_in_page_serves_msal_itself_under_a_strict_csp() {
    let version = erp_server::assets::MSAL_VERSION.trim();
    let s = server().await;
    let (status, page, headers) = call(&s.app, "GET", "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let page = page.as_str().unwrap();
    assert!(page.contains(&format!("/vendor/{version}/msal-browser.min.js")));
    assert!(!page.contains("https://"), "no third-party URL in the page");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        !csp.contains("https://"),
        "Entra ID off: no other origin: {csp}"
    );
    assert!(csp.contains("frame-src 'none'"), "{csp}");

    let (status, js, headers) = call(
        &s.app,
        "GET",
        &format!("/vendor/{version}/msal-browser.min.js"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        js.as_str()
            .unwrap()
            .starts_with(&format!("/*! @azure/msal-browser v{version} "))
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let (status, licence, _) = call(
        &s.app,
        "GET",
        &format!("/vendor/{version}/msal-browser.LICENSE"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(licence.as_str().unwrap().contains("MIT License"));
    let (status, bridge, headers) = call(&s.app, "GET", "/auth/redirect.html", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        bridge
            .as_str()
            .unwrap()
            .contains("msal-redirect-bridge.min.js")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'self'")
    );
    assert_eq!(
        call(
            &s.app,
            "GET",
            "/vendor/0.0.0/msal-browser.min.js",
            None,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    // Entra ID on, with an authority that is no Microsoft host: plain OIDC for MSAL, and
    // that origin (only) allowed to be fetched and framed.
    let tenant = uuid::Uuid::new_v4().to_string();
    let fake = erp_auth::testkit::FakeAzureAd::start(&tenant, "api-client").await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    let env: HashMap<&str, String> = HashMap::from([
        ("AZURE_CLIENT_ID", "api-client".to_owned()),
        ("AZURE_TENANT_ID", tenant.clone()),
        ("AZURE_AUTHORITY_HOST", fake.authority_host()),
    ]);
    config.azure = ServerConfig::from_lookup(|k| env.get(k).cloned())
        .unwrap()
        .azure;
    let app = router(AppState::build(config).await.unwrap());
    let (_, cfg, _) = call(&app, "GET", "/auth/config", None, None).await;
    let host = fake.authority_host();
    assert_eq!(cfg["msal"]["protocol_mode"], "OIDC");
    assert_eq!(cfg["msal"]["authority"], format!("{host}/{tenant}/v2.0"));
    assert_eq!(
        cfg["msal"]["known_authorities"],
        json!([host.trim_start_matches("http://")])
    );
    let (_, _, headers) = call(&app, "GET", "/", None, None).await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("connect-src 'self' {host};")),
        "{csp}"
    );
    assert!(csp.contains(&format!("frame-src {host};")), "{csp}");
}

/// A request with extra headers: `(status, body, headers)`.
async fn call_with(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, Value, http::HeaderMap) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    send(app, req).await
}

/// One column of the first row of `sql` on `db`.
async fn first_text(db: &erp_core::sql::Database, sql: &str, column: &str) -> Option<String> {
    let erp_core::sql::Database::Sqlite(lite) = db else {
        unreachable!("the test server is on SQLite")
    };
    let rows = lite.query_raw(sql).await.unwrap();
    rows.first()
        .and_then(|r| r.get::<Option<String>>(column).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_writes_need_a_role_the_current_version_and_are_stamped_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.legacy_mapping = erp_legacy::LegacyMapping::from_toml_str(
        "[clearance]\nupdated_by = \"updated_by\"\n\
         [shipments]\ncreated_by = \"created_by\"\nupdated_by = \"updated_by\"",
    )
    .unwrap();
    let state = AppState::build(config).await.unwrap();
    let erp_db = state.db.clone();
    let app = router(state);
    let pic = login(&app, "pic1", "pic123").await;
    let t = pic["access_token"].as_str().unwrap();

    let (status, rec, headers) =
        call_with(&app, "GET", "/api/v1/mssql/clearance/2", t, &[], None).await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    let v1 = headers["etag"].to_str().unwrap().to_owned();
    let patch = r#"{"status": "cleared", "notes": "released 放行"}"#;
    let path = "/api/v1/mssql/clearance/2";

    let (status, body, _) = call_with(&app, "PATCH", path, t, &[], Some(patch)).await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");
    assert_eq!(body["code"], "PRECONDITION_REQUIRED");

    let (status, changed, headers) =
        call_with(&app, "PATCH", path, t, &[("if-match", &v1)], Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["status"], "CLEARED");
    assert_eq!(changed["notes"], "released 放行");
    assert_eq!(
        changed["customs_value"], rec["customs_value"],
        "the rest kept"
    );
    let v2 = headers["etag"].to_str().unwrap().to_owned();
    assert_ne!(v1, v2, "a new version");

    // Someone still holding the first version loses, and changes nothing.
    let (status, body, _) = call_with(
        &app,
        "PATCH",
        path,
        t,
        &[("if-match", &v1)],
        Some(r#"{"status": "REJECTED"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    assert_eq!(body["code"], "PRECONDITION_FAILED");
    let (_, now, headers) = call_with(&app, "GET", path, t, &[], None).await;
    assert_eq!(
        (now["status"].as_str(), headers["etag"].to_str().unwrap()),
        (Some("CLEARED"), v2.as_str())
    );

    // Bad input: 400 or 422, never 500.
    for (if_match, body, expected) in [
        (v2.as_str(), "not json", StatusCode::BAD_REQUEST),
        (
            v2.as_str(),
            r#"{"status": 5}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            v2.as_str(),
            r#"{"state": "CLEARED"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            v2.as_str(),
            r#"{"status": "SHIPPED"}"#,
            StatusCode::BAD_REQUEST,
        ),
        (v2.as_str(), r#"{}"#, StatusCode::BAD_REQUEST),
        (
            "yesterday",
            r#"{"status": "DRAFT"}"#,
            StatusCode::BAD_REQUEST,
        ),
        ("W/\"x\"", r#"{"status": "DRAFT"}"#, StatusCode::BAD_REQUEST),
    ] {
        let (status, problem, _) = call_with(
            &app,
            "PATCH",
            path,
            t,
            &[("if-match", if_match)],
            Some(body),
        )
        .await;
        assert_eq!(status, expected, "{if_match} {body}: {problem}");
        assert_eq!(problem["code"], "VALIDATION_FAILED", "{body}");
    }
    let (status, _, _) = call_with(
        &app,
        "PATCH",
        "/api/v1/mssql/clearance/999",
        t,
        &[("if-match", "*")],
        Some(r#"{"notes": null}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Booking: 201, stamped; the same B/L again is a conflict; bad bodies 400/422.
    let ship = r#"{"bl_no": "BL-API-0001", "client_code": "C002", "origin": "Hong Kong", "destination": "Busan", "etd": "2026-03-01", "eta": "2026-03-04"}"#;
    let (status, booked, _) =
        call_with(&app, "POST", "/api/v1/mssql/shipments", t, &[], Some(ship)).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["status"], "BOOKED");
    let (status, body, _) =
        call_with(&app, "POST", "/api/v1/mssql/shipments", t, &[], Some(ship)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("CONFLICT"))
    );
    for (body, expected) in [
        (
            r#"{"bl_no": "BL-API-0002"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"bl_no": "BL-API-0002", "client_code": "C002", "origin": "A", "destination": "B", "etd": "someday"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"bl_no": "BL-API-0002", "client_code": "C002", "origin": "A", "destination": "B", "etd": "2026-03-04", "eta": "2026-03-01"}"#,
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, problem, _) =
            call_with(&app, "POST", "/api/v1/mssql/shipments", t, &[], Some(body)).await;
        assert_eq!(status, expected, "{body}: {problem}");
    }
    let (status, _, _) = call_with(
        &app,
        "POST",
        "/api/v1/mssql/shipments",
        t,
        &[],
        Some(
            r#"{"bl_no": "BL-API-0003", "client_code": "NOPE", "origin": "A", "destination": "B"}"#,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The stamps in the legacy database, and the audit trail in the ERP database.
    let legacy = erp_core::sql::Database::connect(erp_core::sql::DatabaseConfig::Sqlite(
        erp_core::sql::SqliteConfig::file(dir.path().join("legacy.sqlite")),
    ))
    .await
    .unwrap();
    assert_eq!(
        first_text(
            &legacy,
            "SELECT updated_by FROM clearance_records WHERE clearance_id = 2",
            "updated_by"
        )
        .await
        .as_deref(),
        Some("pic1")
    );
    assert_eq!(
        first_text(
            &legacy,
            "SELECT created_by FROM shipments WHERE bl_no = 'BL-API-0001'",
            "created_by"
        )
        .await
        .as_deref(),
        Some("pic1")
    );
    let trail = first_text(
        &erp_db,
        "SELECT group_concat(username || ': ' || detail, ' | ') AS t FROM \
         (SELECT username, detail FROM audit_events WHERE kind = 'legacy_write' ORDER BY id)",
        "t",
    )
    .await
    .unwrap();
    assert_eq!(
        trail,
        format!(
            "pic1: clearance record 2 changed: status CLEARED | pic1: shipment {} booked: B/L BL-API-0001",
            booked["id"]
        )
    );

    // Roles: an accountant reads but does not write.
    let acc = login(&app, "accountant1", "account123").await;
    let ta = acc["access_token"].as_str().unwrap();
    let (status, _, _) = call_with(&app, "GET", path, ta, &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body, _) =
        call_with(&app, "PATCH", path, ta, &[("if-match", "*")], Some(patch)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("FORBIDDEN"))
    );
    let (status, _, _) =
        call_with(&app, "POST", "/api/v1/mssql/shipments", ta, &[], Some(ship)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
