//! Behind a load balancer (`TRUSTED_PROXIES`): the forwarded client is the one rate
//! limited, audited and recorded on its session, and `X-Forwarded-Proto: https` makes the
//! cookies Secure, but only when the TCP peer is a trusted proxy. The peer is set per
//! request the way `into_make_service_with_connect_info` sets it in `main.rs`.

mod common;

use std::{collections::HashMap, net::SocketAddr};

use axum::{Router, body::Body, extract::ConnectInfo};
use common::PgSchema;
use erp_server::{AppState, config::ServerConfig, router, testkit::send};
use http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};

const PROXIES: &str = "10.0.0.0/8, fd00::/8";

/// A fresh schema on the test PostgreSQL server, dropped when the test ends.
struct Db {
    pg: PgSchema,
    dir: tempfile::TempDir,
}

impl Db {
    async fn new() -> Self {
        Self {
            pg: PgSchema::new("erp_p").await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A real `erp-server` router on this database, with `extra` environment.
    async fn instance(&self, extra: &[(&str, &str)]) -> Router {
        let mut env: HashMap<&str, String> = HashMap::from([("DATABASE_URL", self.pg.url.clone())]);
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.embedded_database = true; // seed the development users
        config.legacy_sqlite_path = Some(self.dir.path().join("legacy.sqlite"));
        router(AppState::build(config).await.unwrap())
    }

    /// The `(kind, ip)` of the audit events of `session`, oldest first.
    async fn audit_ips(&self, session: &str) -> Vec<(String, Option<String>)> {
        self.pg
            .client()
            .await
            .query(
                &format!(
                    "SELECT kind, ip FROM {}.audit_events WHERE session_id = $1 ORDER BY at",
                    self.pg.schema
                ),
                &[&session],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }
}

/// `POST path` with a JSON body from TCP peer `peer`, with `headers`.
async fn post_from(
    app: &Router,
    peer: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, Value, HeaderMap) {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    send(app, req).await
}

async fn login_from(app: &Router, peer: &str, headers: &[(&str, &str)]) -> (Value, Vec<String>) {
    let (status, body, h) = post_from(
        app,
        peer,
        "/auth/login",
        headers,
        json!({"username": "admin", "password": "admin123"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookies = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (body, cookies)
}

/// The `ip` the session list shows for `session`.
async fn session_ip(app: &Router, token: &str, session: &str) -> Value {
    let (status, body, _) =
        erp_server::testkit::call(app, "GET", "/auth/sessions", Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no session list: {body}"))
        .iter()
        .find(|s| s["id"] == session)
        .unwrap_or_else(|| panic!("{session} not listed: {body}"))["ip"]
        .clone()
}

fn secure(cookies: &[String]) -> Vec<bool> {
    cookies
        .iter()
        .map(|c| c.split(';').any(|a| a.trim() == "Secure"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_session_and_audit_ip_is_the_forwarded_client_and_https_makes_cookies_secure() {
    let db = Db::new().await;
    // Plain-http listener: only a trusted proxy's word can make the cookies Secure.
    let app = db
        .instance(&[
            ("TRUSTED_PROXIES", PROXIES),
            ("SESSION_COOKIE_SECURE", "false"),
        ])
        .await;

    // Through a trusted proxy; the client's own prepended entry does not win.
    let (body, cookies) = login_from(
        &app,
        "10.0.0.5:40000",
        &[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert_eq!(secure(&cookies), [true, true], "{cookies:?}");
    let token = body["access_token"].as_str().unwrap();
    let session = body["session_id"].as_str().unwrap();
    assert_eq!(session_ip(&app, token, session).await, "203.0.113.7");

    // A refresh through the proxy with RFC 7239 `Forwarded`, quoted IPv6 with a port.
    let (status, refreshed, _) = post_from(
        &app,
        "[fd00::2]:443",
        "/auth/refresh",
        &[("forwarded", "for=\"[2001:db8::42]:5000\";proto=https")],
        json!({ "refresh_token": body["refresh_token"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(
        db.audit_ips(session).await,
        [
            ("login".to_owned(), Some("203.0.113.7".to_owned())),
            ("refresh".to_owned(), Some("2001:db8::42".to_owned())),
        ]
    );

    // A trusted proxy that saw plain http: cookies as configured (not Secure).
    let (_, cookies) = login_from(
        &app,
        "10.0.0.5:40001",
        &[
            ("x-forwarded-for", "203.0.113.8"),
            ("x-forwarded-proto", "http"),
        ],
    )
    .await;
    assert_eq!(secure(&cookies), [false, false], "{cookies:?}");

    // The same headers from an untrusted peer are ignored entirely.
    let (body, cookies) = login_from(
        &app,
        "198.51.100.20:5555",
        &[
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.7;proto=https"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(secure(&cookies), [false, false], "{cookies:?}");
    let token = body["access_token"].as_str().unwrap();
    let session = body["session_id"].as_str().unwrap();
    assert_eq!(session_ip(&app, token, session).await, "198.51.100.20");
    assert_eq!(
        db.audit_ips(session).await,
        [("login".to_owned(), Some("198.51.100.20".to_owned()))]
    );

    // Logout through the proxy over https clears the cookies with Secure too.
    let mut req = Request::builder()
        .method("POST")
        .uri("/auth/logout")
        .header("authorization", format!("Bearer {token}"))
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo("10.0.0.5:40002".parse::<SocketAddr>().unwrap()));
    let (status, _, h) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    let cleared: Vec<String> = h
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(secure(&cleared), [true, true], "{cleared:?}");
}

/// One failed login of an unknown user (so only the per-address budget is spent).
async fn fail_from(app: &Router, peer: &str, xff: Option<&str>, n: usize) -> StatusCode {
    let headers: Vec<(&str, &str)> = xff.map(|v| ("x-forwarded-for", v)).into_iter().collect();
    let (status, body, _) = post_from(
        app,
        peer,
        "/auth/login",
        &headers,
        json!({"username": format!("nobody{n}"), "password": "wrong"}),
    )
    .await;
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
        "{status}: {body}"
    );
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_share_the_budget_of_a_forwarded_client_and_spoofing_cannot_escape_it()
 {
    let db = Db::new().await;
    let a = db.instance(&[("TRUSTED_PROXIES", PROXIES)]).await;
    let b = db.instance(&[("TRUSTED_PROXIES", PROXIES)]).await;
    // The per-address budget (100 attempts per 5 minutes), spent by one client through
    // two load balancers onto two instances. The client prepends a different address
    // each time: if a prepended entry won, the budget would never run out.
    for i in 0..100 {
        let (app, proxy) = if i % 2 == 0 {
            (&a, "10.0.0.1:1000")
        } else {
            (&b, "10.0.0.2:1000")
        };
        let xff = format!("198.18.{}.{}, 203.0.113.7", i / 200, i % 200 + 1);
        assert_eq!(
            fail_from(app, proxy, Some(&xff), i).await,
            StatusCode::UNAUTHORIZED,
            "attempt {}",
            i + 1
        );
    }
    for app in [&a, &b] {
        assert_eq!(
            fail_from(app, "10.0.0.3:1000", Some("203.0.113.7"), 1000).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // Another client behind the same proxies has a budget of its own.
    assert_eq!(
        fail_from(&b, "10.0.0.1:1000", Some("203.0.113.8"), 1001).await,
        StatusCode::UNAUTHORIZED
    );
    // So has the proxy itself, when it speaks for no one.
    assert_eq!(
        fail_from(&a, "10.0.0.1:1000", None, 1002).await,
        StatusCode::UNAUTHORIZED
    );
    // The limited client connecting directly (untrusted) is keyed by its own address:
    // naming someone else in X-Forwarded-For does not give it a fresh budget.
    for app in [&a, &b] {
        assert_eq!(
            fail_from(app, "203.0.113.7:2000", Some("198.51.100.1"), 1003).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    // And an untrusted peer cannot spend someone else's budget by naming them.
    assert_eq!(
        fail_from(&a, "203.0.113.9:2000", Some("203.0.113.7"), 1004).await,
        StatusCode::UNAUTHORIZED
    );
}

/// The whole path as `main.rs` serves it: a real TCP listener whose peer (loopback)
/// reaches the handlers through `into_make_service_with_connect_info`.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// Logs in over real TCP with `X-Forwarded-For: 203.0.113.7` and returns the ip the
/// session list shows.
async fn tcp_login_ip(addr: SocketAddr) -> Value {
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");
    let body: Value = http
        .post(format!("{base}/auth/login"))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"username": "admin", "password": "admin123"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let list: Value = http
        .get(format!("{base}/auth/sessions"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == body["session_id"])
        .unwrap_or_else(|| panic!("session not listed: {list}"))["ip"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_real_tcp_peer_is_trusted_only_when_listed() {
    let db = Db::new().await;
    let trusting = serve(db.instance(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await).await;
    let default = serve(db.instance(&[]).await).await;
    assert_eq!(tcp_login_ip(trusting).await, "203.0.113.7");
    // Unset: not even loopback is a proxy; the header is ignored.
    assert_eq!(tcp_login_ip(default).await, "127.0.0.1");
}
