//! Two `erp-server` processes (the built binary, each on its own port) on one PostgreSQL
//! schema, with Redis for the rate limits and the revocation bus, under a load
//! generator on the same machine:
//!
//! - a mix of logins, refreshes, `/auth/me` and logouts spread over both instances
//!   (logins come through a trusted proxy, `X-Forwarded-For` naming a new address each
//!   time, so the per-address login budget is not what is measured);
//! - revocation propagation: log in on A, have B cache the session, log out on A, and
//!   time until B refuses the token (polled every millisecond), while a background load
//!   of `GET /auth/me` runs on B; with `REVOCATION_FEED=postgres` and `=redis`;
//! - the refresh race: 20 concurrent refreshes of one token, half on each instance,
//!   outcomes counted (all must succeed, in one session, the user still signed in).
//!
//! `cargo bench -p erp-server --bench instances` (needs `ERP_TEST_DATABASE_URL` and
//! `ERP_TEST_REDIS_URL`, defaults as in the tests). `ERP_BENCH_SECONDS` (default 10)
//! sets the mix's length, `ERP_BENCH_SAMPLES` (default 100) the propagation samples per
//! feed, `ERP_BENCH_RACES` (default 10) the refresh races per feed.

// A measurement harness: printing is its output.
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    io::Write,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use common::PgSchema;
use erp_auth::testkit::load::{Load, run};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USERS: usize = 8;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One `erp-server` process, killed when dropped.
struct Instance {
    child: Child,
    base: String,
    port: u16,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary(env: &[(&str, String)], dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_erp-server"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(dir);
    cmd
}

fn spawn(env: &[(&str, String)], dir: &std::path::Path) -> Instance {
    let port = free_port();
    let child = binary(env, dir)
        .env("ERP_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("the erp-server binary");
    Instance {
        child,
        base: format!("http://127.0.0.1:{port}"),
        port,
    }
}

/// Waits for `/health` to answer 200 with the revocation feed `feed` up.
async fn ready(http: &reqwest::Client, instance: &Instance, feed: &str) {
    let started = Instant::now();
    loop {
        if let Ok(res) = http.get(format!("{}/health", instance.base)).send().await
            && res.status() == StatusCode::OK
            && let Ok(health) = res.json::<Value>().await
            && health["checks"]["revocation_feed"]["feeds"][feed]["status"] == "ok"
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} not ready with the {feed} feed",
            instance.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `erp-server` with `args` (password on stdin) and checks it succeeded.
fn cli(env: &[(&str, String)], dir: &std::path::Path, args: &[&str], stdin: &str) {
    let mut child = binary(env, dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "erp-server {args:?} failed"
    );
}

struct Client {
    http: reqwest::Client,
    /// Distinct client addresses behind the trusted proxy.
    next_ip: AtomicU64,
}

impl Client {
    async fn post(&self, url: String, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.http.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, at: &Instance, user: usize) -> Value {
        let n = self.next_ip.fetch_add(1, Ordering::Relaxed);
        let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
        let res = self
            .http
            .post(format!("{}/auth/login", at.base))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": format!("bench{user}"), "password": format!("bench-password-{user}")}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::OK, "login: {body}");
        body
    }

    async fn refresh(&self, at: &Instance, token: &str) -> (StatusCode, Value) {
        self.post(
            format!("{}/auth/refresh", at.base),
            None,
            json!({ "refresh_token": token }),
        )
        .await
    }

    async fn logout(&self, at: &Instance, token: &str) -> StatusCode {
        self.post(format!("{}/auth/logout", at.base), Some(token), json!({}))
            .await
            .0
    }

    async fn me(&self, at: &Instance, token: &str) -> StatusCode {
        self.http
            .get(format!("{}/auth/me", at.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "{name:<28} n={:<5} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    )
}

/// Login on one instance, refresh on the other, `/auth/me` on both, logout: `USERS`
/// workers for `seconds`. Prints each step's latency and the cycles per second.
async fn mix(client: &Client, a: &Instance, b: &Instance, seconds: u64) {
    let started = Instant::now();
    let workers = (0..USERS).map(|user| async move {
        let mut steps: [Vec<Duration>; 4] = Default::default();
        let mut cycles = 0u64;
        let mut i = user;
        while started.elapsed() < Duration::from_secs(seconds) {
            let (x, y) = if i % 2 == 0 { (a, b) } else { (b, a) };
            i += 1;
            let t = Instant::now();
            let login = client.login(x, user).await;
            steps[0].push(t.elapsed());
            let t = Instant::now();
            let (status, pair) = client
                .refresh(y, login["refresh_token"].as_str().unwrap())
                .await;
            steps[1].push(t.elapsed());
            assert_eq!(status, StatusCode::OK, "refresh: {pair}");
            let access = pair["access_token"].as_str().unwrap();
            for at in [x, y] {
                let t = Instant::now();
                assert_eq!(client.me(at, access).await, StatusCode::OK);
                steps[2].push(t.elapsed());
            }
            let t = Instant::now();
            assert_eq!(client.logout(y, access).await, StatusCode::OK);
            steps[3].push(t.elapsed());
            cycles += 1;
        }
        (steps, cycles)
    });
    let results = futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: [Vec<Duration>; 4] = Default::default();
    let mut cycles = 0;
    for (steps, n) in results {
        cycles += n;
        for (into, from) in all.iter_mut().zip(steps) {
            into.extend(from);
        }
    }
    println!(
        "  mix: {USERS} workers, {cycles} cycles in {elapsed:.1} s ({:.1} cycles/s; \
         a cycle = login, refresh, 2x /auth/me, logout)",
        cycles as f64 / elapsed
    );
    for (name, samples) in ["login", "refresh", "/auth/me", "logout"].iter().zip(all) {
        println!("    {}", summary(name, samples));
    }
}

/// Logout on A until B refuses, `samples` times, under a background `/auth/me` load on B.
async fn propagation(client: &Client, a: &Instance, b: &Instance, samples: u64) {
    let background = client.login(a, 0).await;
    let token = background["access_token"].as_str().unwrap().to_owned();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], b.port));
    let load = tokio::spawn(async move {
        run(
            addr,
            "/auth/me",
            Some(&token),
            &Load {
                connections: 8,
                warmup: Duration::from_millis(500),
                measure: Duration::from_secs(3600),
            },
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut took = Vec::new();
    for i in 0..samples {
        let login = client.login(a, 1 + (i as usize % (USERS - 1))).await;
        let access = login["access_token"].as_str().unwrap();
        assert_eq!(client.me(b, access).await, StatusCode::OK);
        assert_eq!(client.me(b, access).await, StatusCode::OK, "cached on B");
        assert_eq!(client.logout(a, access).await, StatusCode::OK);
        let revoked = Instant::now();
        loop {
            match client.me(b, access).await {
                StatusCode::UNAUTHORIZED => break,
                StatusCode::OK => {}
                other => panic!("B answered {other}"),
            }
            assert!(revoked.elapsed() < Duration::from_secs(30), "never refused");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        took.push(revoked.elapsed());
    }
    // The generator runs until the bench ends; its connections then close.
    load.abort();
    println!("    {}", summary("revocation A -> B refused", took));
}

/// `races` times: 20 concurrent refreshes of one token, 10 on each instance.
async fn refresh_race(client: &Client, a: &Instance, b: &Instance, races: u64) {
    let (mut ok, mut refused, mut other, mut one_session, mut signed_in) = (0, 0, 0, 0, 0);
    for _ in 0..races {
        let login = client.login(a, 0).await;
        let token = login["refresh_token"].as_str().unwrap();
        let answers = futures::future::join_all((0..20).map(|i| {
            let at = if i % 2 == 0 { a } else { b };
            client.refresh(at, token)
        }))
        .await;
        let mut sessions = Vec::new();
        let mut access = None;
        for (status, body) in answers {
            match status {
                StatusCode::OK => {
                    ok += 1;
                    sessions.push(body["session_id"].clone());
                    access = body["access_token"].as_str().map(str::to_owned);
                }
                StatusCode::UNAUTHORIZED => refused += 1,
                _ => other += 1,
            }
        }
        sessions.dedup();
        if sessions.len() == 1 && sessions[0] == login["session_id"] {
            one_session += 1;
        }
        if let Some(access) = access
            && client.me(a, &access).await == StatusCode::OK
            && client.me(b, &access).await == StatusCode::OK
        {
            signed_in += 1;
        }
    }
    println!(
        "    refresh race x{races} (20 each): {ok} ok, {refused} refused, {other} other; \
         one session in {one_session}/{races}, still signed in {signed_in}/{races}"
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let redis =
            std::env::var("ERP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let (seconds, samples, races) = (
            env_or("ERP_BENCH_SECONDS", 10),
            env_or("ERP_BENCH_SAMPLES", 100),
            env_or("ERP_BENCH_RACES", 10),
        );
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "two erp-server processes, one PostgreSQL schema, Redis; load average before: {}",
            load.split(' ').take(3).collect::<Vec<_>>().join(" ")
        );
        let client = Client {
            http: reqwest::Client::new(),
            next_ip: AtomicU64::new(1),
        };
        for feed in ["postgres", "redis"] {
            let pg = PgSchema::new("erp_bench").await;
            let dir = tempfile::tempdir().unwrap();
            let prefix = format!("erp-bench-{}:", uuid::Uuid::new_v4().simple());
            let env = [
                ("DATABASE_URL", pg.url.clone()),
                ("REDIS_URL", redis.clone()),
                ("REDIS_KEY_PREFIX", prefix),
                ("REVOCATION_FEED", feed.to_owned()),
                ("TRUSTED_PROXIES", "127.0.0.1/32".to_owned()),
            ];
            let a = spawn(&env, dir.path());
            ready(&client.http, &a, feed).await;
            let b = spawn(&env, dir.path());
            ready(&client.http, &b, feed).await;
            for user in 0..USERS {
                let name = format!("bench{user}");
                cli(
                    &env,
                    dir.path(),
                    &["user", "create", &name, "--password-stdin"],
                    &format!("bench-password-{user}\n"),
                );
            }
            println!("REVOCATION_FEED={feed}");
            mix(&client, &a, &b, seconds).await;
            propagation(&client, &a, &b, samples).await;
            refresh_race(&client, &a, &b, races).await;
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "load average after: {}",
            load.split(' ').take(3).collect::<Vec<_>>().join(" ")
        );
    });
}
