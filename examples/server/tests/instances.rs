//! Two server instances on one PostgreSQL database: a logout on one is refused by the
//! other within a second, for a local session and for an Entra ID access token;
//! refreshes racing across both keep the user signed in.

mod common;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use axum::Router;
use common::{PgSchema, call};
use erp_server::{AppState, config::ServerConfig, router, testkit::call as call_full};
use http::StatusCode;
use serde_json::{Value, json};

/// A fresh schema on the test PostgreSQL server, dropped when the test ends (even when
/// it fails), and the instances started on it.
struct Cluster {
    pg: PgSchema,
    dir: tempfile::TempDir,
}

/// The listeners' backends of this cluster's instances (`application_name` carries the
/// schema, so other test runs on the server are left alone).
async fn listener_pids(client: &tokio_postgres::Client, schema: &str) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("erp-toolkit-listener {schema}")],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

impl Cluster {
    async fn new() -> Self {
        Self {
            pg: PgSchema::new("erp_s").await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A real `erp-server` router on the shared database, with `extra` environment.
    async fn instance(&self, extra: &[(&str, &str)]) -> Router {
        let mut env: HashMap<&str, String> = HashMap::from([("DATABASE_URL", self.pg.url.clone())]);
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.embedded_database = true; // seed the development users
        config.legacy_sqlite_path = Some(self.dir.path().join("legacy.sqlite"));
        router(AppState::build(config).await.unwrap())
    }
}

async fn login(app: &Router) -> Value {
    let (status, body) = call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "admin", "password": "admin123"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn refresh(app: &Router, token: &str) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/auth/refresh",
        None,
        Some(json!({ "refresh_token": token })),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_logout_on_one_instance_is_refused_by_the_other() {
    let cluster = Cluster::new().await;
    let a = cluster.instance(&[]).await;
    let b = cluster.instance(&[]).await;
    // Give both LISTEN connections a moment to be up.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let login = login(&a).await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&a, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&b, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK,
        "B has it cached now"
    );

    let (status, _) = call(&a, "POST", "/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    loop {
        let (status, body) = call(&b, "GET", "/auth/me", Some(&token), None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "SESSION_REVOKED");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts the token 1 s after the logout on A"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("logout on A refused by B after {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_refresh_race_across_instances_keeps_the_user_signed_in() {
    let cluster = Cluster::new().await;
    // A short interval keeps the test short; the rule is the same at the 10 s default.
    let env = [("REFRESH_TOKEN_REUSE_INTERVAL", "2s")];
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let login = login(&a).await;
    let first = login["refresh_token"].as_str().unwrap().to_owned();
    let session = login["session_id"].clone();

    // Two tabs (or a retry) on both instances, the same refresh token, all at once.
    let answers = futures::future::join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        let token = first.clone();
        tokio::spawn(async move { refresh(&app, &token).await })
    }))
    .await;
    let mut pairs = Vec::new();
    for answer in answers {
        let (status, body) = answer.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "every racing refresh succeeds: {body}"
        );
        assert_eq!(body["session_id"], session, "one session, one family");
        pairs.push((
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        ));
    }
    let mut distinct: Vec<_> = pairs.iter().map(|p| p.1.clone()).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        20,
        "each answer carries its own refresh token"
    );
    for (i, (access, _)) in pairs.iter().enumerate() {
        let app = if i % 2 == 0 { &b } else { &a };
        let (status, me) = call(app, "GET", "/auth/me", Some(access), None).await;
        assert_eq!(status, StatusCode::OK, "still signed in: {me}");
    }
    // One of the tabs goes on refreshing normally.
    let (status, next) = refresh(&b, &pairs[0].1).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    let current = next["refresh_token"].as_str().unwrap().to_owned();
    let access = next["access_token"].as_str().unwrap().to_owned();

    // The first token again after the interval: theft. The family and the session end.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let (status, body) = refresh(&a, &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "SESSION_REVOKED");
    for token in [&current, &pairs[1].1] {
        let (status, body) = refresh(&b, token).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the family's current refresh token is dead too: {body}"
        );
    }
    let started = Instant::now();
    loop {
        let (status, _) = call(&b, "GET", "/auth/me", Some(&access), None).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts the session 1 s after the reuse on A"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Spends the default login budget (10 attempts per username per 5 minutes) with wrong
/// passwords spread over `a` and `b`; then both refuse the next attempt with 429
/// `RATE_LIMITED` and a `Retry-After`.
async fn spend_login_budget_across(a: &Router, b: &Router) {
    let wrong = json!({"username": "admin", "password": "not-the-password"});
    for i in 0..10 {
        let app = if i % 2 == 0 { a } else { b };
        let (status, body) = call(app, "POST", "/auth/login", None, Some(wrong.clone())).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {}: {body}",
            i + 1
        );
    }
    for app in [a, b] {
        let (status, body, headers) =
            call_full(app, "POST", "/auth/login", None, Some(wrong.clone())).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
        assert_eq!(body["code"], "RATE_LIMITED");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=600).contains(&retry), "Retry-After {retry}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_login_budget_holds_across_instances_and_fails_closed() {
    let cluster = Cluster::new().await;
    let a = cluster.instance(&[]).await;
    let b = cluster.instance(&[]).await;
    spend_login_budget_across(&a, &b).await;
    // Even the right password waits: the budget is spent.
    let (status, _) = call(
        &b,
        "POST",
        "/auth/login",
        None,
        Some(json!({"username": "admin", "password": "admin123"})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // The limiter's store cannot answer: logins are refused with 503, never unlimited.
    let (client, conn) = tokio_postgres::connect(&cluster.pg.base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let schema = &cluster.pg.schema;
    client
        .batch_execute(&format!(
            "ALTER TABLE {schema}.login_rate_limits RENAME TO login_rate_limits_away"
        ))
        .await
        .unwrap();
    let good = json!({"username": "accountant1", "password": "account123"});
    for app in [&a, &b] {
        let (status, body) = call(app, "POST", "/auth/login", None, Some(good.clone())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["code"], "UPSTREAM_UNAVAILABLE");
    }
    client
        .batch_execute(&format!(
            "ALTER TABLE {schema}.login_rate_limits_away RENAME TO login_rate_limits"
        ))
        .await
        .unwrap();
    let (status, body) = call(&a, "POST", "/auth/login", None, Some(good)).await;
    assert_eq!(status, StatusCode::OK, "recovers with its store: {body}");
}

/// The test Redis (`ERP_TEST_REDIS_URL`, default the machine's `127.0.0.1:6379`).
fn redis_addr() -> String {
    let url =
        std::env::var("ERP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    url.trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned()
}

/// A TCP relay in front of Redis that the test can cut and restore, to take "Redis" down
/// for these instances without touching the machine's server, or freeze (connections
/// stay open, nothing passes: a partition, a hung server).
struct Relay {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
    frozen: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = redis_addr();
        let (frozen, watch) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            // Connections live in the set: aborting the relay closes them all.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let mut watch = watch.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            () = async { drop(watch.wait_for(|f| *f).await) } => {
                                // Frozen: hold both ends open and silent.
                                std::future::pending::<()>().await;
                            }
                        }
                    }
                });
            }
        });
        Self {
            port,
            task: Some(task),
            frozen,
        }
    }

    fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_login_budget_holds_across_instances_fails_closed_and_recovers() {
    let cluster = Cluster::new().await;
    let prefix = format!("erp-test-{}:", uuid::Uuid::new_v4().simple());
    let mut relay = Relay::start(0).await;
    let url = format!("redis://127.0.0.1:{}", relay.port);
    let env = [
        ("REDIS_URL", url.as_str()),
        ("REDIS_KEY_PREFIX", prefix.as_str()),
        ("REDIS_TIMEOUT", "500ms"),
    ];
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    spend_login_budget_across(&a, &b).await;
    // The counters are in Redis, under this test's prefix, and not in the database.
    let (client, conn) = tokio_postgres::connect(&cluster.pg.base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM {}.login_rate_limits",
                cluster.pg.schema
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    let redis = redis_cli(&["--scan", "--pattern", &format!("{prefix}*")]);
    assert!(redis.contains(&format!("{prefix}rl:")), "{redis:?}");

    // Redis gone: logins fail closed on both instances.
    let port = relay.port;
    relay.cut().await;
    let good = json!({"username": "accountant1", "password": "account123"});
    for app in [&a, &b] {
        let (status, body) = call(app, "POST", "/auth/login", None, Some(good.clone())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    // Redis back: they recover by themselves.
    let _relay = Relay::start(port).await;
    let started = Instant::now();
    loop {
        let (status, body) = call(&a, "POST", "/auth/login", None, Some(good.clone())).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no recovery 20 s after Redis returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "logins recovered {:?} after Redis returned",
        started.elapsed()
    );
    redis_cli_del_prefix(&prefix);
}

fn redis_cli(args: &[&str]) -> String {
    let addr = redis_addr();
    let (host, port) = addr.split_once(':').unwrap_or((&addr, "6379"));
    let out = std::process::Command::new("redis-cli")
        .args(["-h", host, "-p", port])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn redis_cli_del_prefix(prefix: &str) {
    for key in redis_cli(&["--scan", "--pattern", &format!("{prefix}*")]).lines() {
        redis_cli(&["DEL", key]);
    }
}

/// Waits until B's `/health` shows the revocation feed `feed` (`postgres`, `redis`) up.
async fn wait_for_feed(b: &Router, feed: &str) {
    let started = Instant::now();
    loop {
        let (_, health) = call(b, "GET", "/health", None, None).await;
        if health["checks"]["revocation_feed"]["feeds"][feed]["status"] == "ok" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "B's {feed} revocation feed is not up: {health}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs in on A, has B cache the session, then revokes it on A after `outage`; returns
/// how long B took to refuse the session (at most 30 s).
async fn logout_on_a_refused_by_b_despite(
    a: &Router,
    b: &Router,
    outage: impl AsyncFnOnce(),
) -> Duration {
    let token = login(a).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(b, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(b, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK,
        "from B's cache"
    );
    outage().await;
    let (status, _) = call(a, "POST", "/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let revoked = Instant::now();
    loop {
        let (status, body) = call(b, "GET", "/auth/me", Some(&token), None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "SESSION_REVOKED");
            return revoked.elapsed();
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(30),
            "B still accepts a session revoked 30 s ago"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// As [`logout_on_a_refused_by_b_despite`], once both listeners are up; `outage` gets
/// their backends.
async fn revocation_on_a_reaches_b_despite(
    cluster: &Cluster,
    a: &Router,
    b: &Router,
    outage: impl AsyncFnOnce(&tokio_postgres::Client, &[i32]),
) -> Duration {
    let (client, conn) = tokio_postgres::connect(&cluster.pg.base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let started = Instant::now();
    let pids = loop {
        let pids = listener_pids(&client, &cluster.pg.schema).await;
        if pids.len() == 2 {
            break pids;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "listeners: {pids:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A listener shows in pg_stat_activity a moment before its LISTEN has run and the
    // feed calls itself up: wait for B to say so.
    wait_for_feed(b, "postgres").await;
    logout_on_a_refused_by_b_despite(a, b, async || outage(&client, &pids).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_revocation_is_honoured_within_the_bound_when_the_listener_is_killed() {
    let cluster = Cluster::new().await;
    let env = [("REVOCATION_MAX_STALENESS", "2s")];
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    let took = revocation_on_a_reaches_b_despite(&cluster, &a, &b, async |client, pids| {
        for pid in pids {
            client
                .execute("SELECT pg_terminate_backend($1)", &[pid])
                .await
                .unwrap();
        }
    })
    .await;
    eprintln!("revocation honoured by B {took:?} after the listeners were killed");
    assert!(
        took <= Duration::from_secs(2) + Duration::from_millis(500),
        "{took:?}"
    );
}

/// A listener whose backend stops answering (SIGSTOP: a partition, a hung server) gets
/// no error and no notification: only the heartbeat and the staleness bound notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_revocation_is_honoured_within_the_bound_when_the_listener_hangs() {
    let cluster = Cluster::new().await;
    let env = [("REVOCATION_MAX_STALENESS", "2s")];
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    let stopped = std::sync::Mutex::new(Vec::new());
    let took = revocation_on_a_reaches_b_despite(&cluster, &a, &b, async |_, pids| {
        for pid in pids {
            let ok = std::process::Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot stop backend {pid}: the test needs the PostgreSQL server local and signalable");
            stopped.lock().unwrap().push(*pid);
        }
    })
    .await;
    for pid in stopped.lock().unwrap().iter() {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &pid.to_string()])
            .status();
    }
    eprintln!("revocation honoured by B {took:?} after the listeners hung");
    assert!(
        took <= Duration::from_secs(2) + Duration::from_millis(500),
        "{took:?}"
    );
}

/// Sign-out of an Entra ID token (no session of ours): A records its `uti`, B refuses
/// the token through the same NOTIFY feed as session revocations.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_entra_sign_out_on_one_instance_is_refused_by_the_other() {
    let pg = PgSchema::new("erp_s").await;
    let url = pg.url.clone();
    let tenant = uuid::Uuid::new_v4().to_string();
    let client_id = uuid::Uuid::new_v4().to_string();
    let fake = erp_auth::testkit::FakeAzureAd::start(&tenant, &client_id).await;
    let dir = tempfile::tempdir().unwrap();
    let instance = || async {
        let env: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", url.clone()),
            ("AZURE_CLIENT_ID", client_id.clone()),
            ("AZURE_TENANT_ID", tenant.clone()),
            ("AZURE_AUTHORITY_HOST", fake.authority_host()),
            ("AZURE_AUTO_PROVISION", "true".into()),
        ]);
        let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
        router(AppState::build(config).await.unwrap())
    };
    let a = instance().await;
    let b = instance().await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let uti = format!("uti-{}", uuid::Uuid::new_v4().simple());
    let token = fake.token().claim("uti", uti.as_str()).build();
    let other = fake
        .token()
        .claim("uti", format!("uti-{}", uuid::Uuid::new_v4().simple()))
        .build();
    for app in [&a, &b] {
        let (status, me) = call(app, "GET", "/auth/me", Some(&token), None).await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }

    let (status, body) = call(&a, "POST", "/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["revoked"], true);
    assert_eq!(
        call(&a, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::UNAUTHORIZED,
        "refused at once where it was signed out"
    );
    let started = Instant::now();
    loop {
        let (status, body) = call(&b, "GET", "/auth/me", Some(&token), None).await;
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(body["code"], "SESSION_REVOKED");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "B still accepts the token 1 s after the sign-out on A"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "Entra sign-out on A refused by B after {:?}",
        started.elapsed()
    );
    // Only that token: the same user's other token still works on both.
    for app in [&a, &b] {
        assert_eq!(
            call(app, "GET", "/auth/me", Some(&other), None).await.0,
            StatusCode::OK
        );
    }
    drop((a, b));
}

/// Environment of an instance on the Redis at `url`, under a key prefix of this test.
fn redis_env<'a>(url: &'a str, prefix: &'a str, feed: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("REDIS_URL", url),
        ("REDIS_KEY_PREFIX", prefix),
        ("REDIS_TIMEOUT", "500ms"),
        ("REVOCATION_FEED", feed),
        ("REVOCATION_MAX_STALENESS", "2s"),
    ]
}

fn test_prefix() -> String {
    format!("erp-test-{}:", uuid::Uuid::new_v4().simple())
}

/// `REVOCATION_FEED=redis` (a pooler without LISTEN): no listener on PostgreSQL, and
/// a logout on A is refused by B, which had the session cached, at once through Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_feed_logout_on_one_instance_is_refused_by_the_other_without_listen() {
    let cluster = Cluster::new().await;
    let prefix = test_prefix();
    let url = format!("redis://{}", redis_addr());
    let env = redis_env(&url, &prefix, "redis");
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    wait_for_feed(&b, "redis").await;
    let (_, health) = call(&b, "GET", "/health", None, None).await;
    let feeds = health["checks"]["revocation_feed"]["feeds"]
        .as_object()
        .unwrap();
    assert_eq!(feeds.len(), 1, "only the Redis feed: {health}");
    let (client, conn) = tokio_postgres::connect(&cluster.pg.base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    assert!(
        listener_pids(&client, &cluster.pg.schema).await.is_empty(),
        "no LISTEN connection"
    );

    let took = logout_on_a_refused_by_b_despite(&a, &b, async || {}).await;
    eprintln!("logout on A refused by B through Redis after {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    redis_cli_del_prefix(&prefix);
}

/// The Redis feed's connection cut (Redis gone for both instances) while A revokes: B,
/// whose cache had the session, refuses it within REVOCATION_MAX_STALENESS by asking the
/// database; `/health` shows the feed down, and up again once Redis returns, when the
/// bus carries revocations at once again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_feed_revocation_is_honoured_within_the_bound_when_redis_is_cut_and_recovers() {
    let cluster = Cluster::new().await;
    let prefix = test_prefix();
    let mut relay = Relay::start(0).await;
    let port = relay.port;
    let url = format!("redis://127.0.0.1:{port}");
    let env = redis_env(&url, &prefix, "redis");
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    wait_for_feed(&b, "redis").await;

    let took = logout_on_a_refused_by_b_despite(&a, &b, async || relay.cut().await).await;
    eprintln!("revocation honoured by B {took:?} after Redis was cut");
    assert!(
        took <= Duration::from_secs(2) + Duration::from_millis(500),
        "{took:?}"
    );
    let (status, health) = call(&b, "GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["checks"]["revocation_feed"]["status"], "down");
    assert_eq!(
        health["checks"]["revocation_feed"]["feeds"]["redis"]["connected"],
        false
    );
    assert_eq!(health["checks"]["redis"]["status"], "down");

    let _relay = Relay::start(port).await;
    let back = Instant::now();
    wait_for_feed(&b, "redis").await;
    eprintln!("Redis feed up {:?} after Redis returned", back.elapsed());
    let (_, health) = call(&b, "GET", "/health", None, None).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(health["checks"]["redis"]["latency_ms"].as_f64().is_some());
    let took = logout_on_a_refused_by_b_despite(&a, &b, async || {}).await;
    assert!(
        took < Duration::from_secs(1),
        "through the bus again: {took:?}"
    );
    redis_cli_del_prefix(&prefix);
}

/// Both feeds (the default with REDIS_URL): with Redis cut, LISTEN still carries the
/// revocation at once; `/health` is degraded, naming the Redis feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_feeds_carry_revocations_at_once_while_redis_is_cut() {
    let cluster = Cluster::new().await;
    let prefix = test_prefix();
    let mut relay = Relay::start(0).await;
    let url = format!("redis://127.0.0.1:{}", relay.port);
    let mut env = redis_env(&url, &prefix, "both").to_vec();
    env.retain(|(k, _)| *k != "REVOCATION_FEED");
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    wait_for_feed(&b, "redis").await;
    wait_for_feed(&b, "postgres").await;

    let took = logout_on_a_refused_by_b_despite(&a, &b, async || relay.cut().await).await;
    eprintln!("logout on A refused by B after {took:?} with Redis cut (LISTEN)");
    assert!(took < Duration::from_secs(1), "{took:?}");
    let (_, health) = call(&b, "GET", "/health", None, None).await;
    let feed = &health["checks"]["revocation_feed"];
    assert_eq!(feed["status"], "ok", "LISTEN is fresh: {health}");
    assert_eq!(feed["feeds"]["postgres"]["status"], "ok", "{health}");
    assert_eq!(feed["feeds"]["redis"]["status"], "down", "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    redis_cli_del_prefix(&prefix);
}

/// The Redis feed's connection goes silent (no error, nothing delivered): only the
/// heartbeat notices; B, whose cache had the session, refuses it within the bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_feed_revocation_is_honoured_within_the_bound_when_redis_hangs() {
    let cluster = Cluster::new().await;
    let prefix = test_prefix();
    let mut relay = Relay::start(0).await;
    let url = format!("redis://127.0.0.1:{}", relay.port);
    let env = redis_env(&url, &prefix, "redis");
    let a = cluster.instance(&env).await;
    let b = cluster.instance(&env).await;
    wait_for_feed(&b, "redis").await;

    let took = logout_on_a_refused_by_b_despite(&a, &b, async || relay.freeze()).await;
    eprintln!("revocation honoured by B {took:?} after Redis hung");
    assert!(
        took <= Duration::from_secs(2) + Duration::from_millis(500),
        "{took:?}"
    );
    let (_, health) = call(&b, "GET", "/health", None, None).await;
    assert_eq!(
        health["checks"]["revocation_feed"]["feeds"]["redis"]["status"], "down",
        "{health}"
    );
    relay.cut().await;
    redis_cli_del_prefix(&prefix);
}

/// `erp-server sessions revoke` with `REVOCATION_FEED=redis`: the CLI, a process about to
/// exit, publishes on the bus itself, so B (following only Redis, the session cached)
/// refuses at once instead of at its cache TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_feed_carries_a_revocation_made_by_the_cli() {
    let cluster = Cluster::new().await;
    let prefix = test_prefix();
    let url = format!("redis://{}", redis_addr());
    let env = redis_env(&url, &prefix, "redis");
    let b = cluster.instance(&env).await;
    wait_for_feed(&b, "redis").await;
    let token = login(&b).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&b, "GET", "/auth/me", Some(&token), None).await.0,
        StatusCode::OK,
        "cached by B"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_erp-server"))
        .args([
            "sessions", "revoke", "--tenant", "default", "--user", "admin",
        ])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .env("DATABASE_URL", &cluster.pg.url)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked = Instant::now();
    while call(&b, "GET", "/auth/me", Some(&token), None).await.0 != StatusCode::UNAUTHORIZED {
        assert!(
            revoked.elapsed() < Duration::from_secs(1),
            "B still accepts a session the CLI revoked: the bus did not carry it"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis_cli_del_prefix(&prefix);
}
