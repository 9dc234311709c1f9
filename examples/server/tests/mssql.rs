//! The reference server against a real T-SQL server (SQL Server, or Babelfish for
//! PostgreSQL here): the legacy routes and the sync, the start-up schema check, the
//! `legacy check-schema` command, and an outage of the legacy database.
//!
//! The tests that use the shared server read `MSSQL_TEST_URL` (an ADO string whose
//! login may create databases) and load the sample schema into a database of their
//! own, dropped at the end. The outage test starts a private Babelfish instead (it
//! stops it, which must not happen to a server other tests use): from
//! `ERP_BABELFISH_DIR`, else `<workspace>/../shared/babelfish`. Without what they need
//! the tests say they are skipped, unless `ERP_REQUIRE_MSSQL=1`. The ERP database is
//! PostgreSQL (`ERP_TEST_DATABASE_URL`, a schema of its own) where the sync is tested,
//! else a temporary SQLite file.

mod common;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use axum::{Router, body::Body};
use common::PgSchema;
use erp_legacy::mssql::{MssqlConfig, MssqlExecutor};
use erp_server::{
    AppState,
    config::{MssqlSettings, SchemaCheck, ServerConfig},
    router,
};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const SCHEMA_SQL: &str = include_str!("../../../erp-legacy/sql/mssql/01_schema.sql");
const DATA_SQL: &str = include_str!("../../../erp-legacy/sql/mssql/02_sample_data.sql");

fn required() -> bool {
    std::env::var("ERP_REQUIRE_MSSQL").as_deref() == Ok("1")
}

/// `MSSQL_TEST_URL`, or `None` after saying the test is skipped.
fn mssql_url() -> Option<String> {
    match std::env::var("MSSQL_TEST_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if required() => panic!("ERP_REQUIRE_MSSQL=1 but MSSQL_TEST_URL is not set"),
        _ => {
            erp_core::testing::skipped("MSSQL_TEST_URL not set");
            None
        }
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Runs `work` on a thread with a runtime of its own: `Drop` runs inside the test's
/// runtime, which cannot be blocked on.
fn on_own_runtime<F: std::future::Future<Output = ()> + Send + 'static>(work: F) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work);
    })
    .join();
}

// --- the legacy database --------------------------------------------------------------

fn mssql_config(ado: &str) -> MssqlConfig {
    MssqlConfig::from_env_value("MSSQL_TEST_URL", ado).expect("a valid MSSQL_TEST_URL")
}

/// A T-SQL database of the test's own on the server `admin_url` names (multi-db mode),
/// dropped when the test ends, even when it fails.
struct TsqlDatabase {
    admin_url: String,
    name: String,
}

impl TsqlDatabase {
    async fn create(admin_url: &str) -> Self {
        let name = unique("erp_srv");
        let admin = MssqlExecutor::connect(mssql_config(admin_url))
            .await
            .expect("MSSQL_TEST_URL is set but the server cannot be reached");
        // Babelfish updates its catalogue without waiting for a concurrent CREATE
        // DATABASE (another test's): "tuple concurrently updated". Such a failure
        // created nothing; try again.
        for attempt in 1.. {
            match admin
                .batch_execute_raw(&format!("CREATE DATABASE {name}"))
                .await
            {
                Ok(()) => break,
                Err(e) if attempt < 10 && format!("{e:?}").contains("concurrently updated") => {
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                Err(e) => {
                    panic!("CREATE DATABASE (the login needs the right to create databases): {e:?}")
                }
            }
        }
        Self {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// The ADO string of this database (the last `database=` wins).
    fn url(&self) -> String {
        format!("{};database={}", self.admin_url, self.name)
    }

    /// Loads the sample schema and data into `schema` (`dbo`: where unqualified
    /// queries look).
    async fn load_sample(&self, schema: &str) {
        let exec = MssqlExecutor::connect(mssql_config(&self.url()))
            .await
            .unwrap();
        if schema != "dbo" {
            // CREATE SCHEMA must be alone in its batch.
            exec.batch_execute_raw(&format!("CREATE SCHEMA {schema}"))
                .await
                .unwrap();
        }
        let qualify = |sql: &str| sql.replace("dbo.", &format!("{schema}."));
        exec.batch_execute_raw(&qualify(SCHEMA_SQL)).await.unwrap();
        exec.batch_execute_raw(&qualify(DATA_SQL)).await.unwrap();
    }
}

impl Drop for TsqlDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        on_own_runtime(async move {
            let Ok(admin) = MssqlExecutor::connect(mssql_config(&url)).await else {
                eprintln!("could not connect to drop the test database {name}");
                return;
            };
            // The servers' pools were dropped just before; their sessions may take a
            // moment to end, and a database in use cannot be dropped.
            for attempt in 0..20 {
                match admin
                    .batch_execute_raw(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await
                {
                    Ok(()) => return,
                    Err(e) if attempt == 19 => eprintln!("DROP DATABASE {name}: {e}"),
                    Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                }
            }
        });
    }
}

// --- the ERP database -------------------------------------------------------------------

/// The rows of `table` in the ERP schema.
async fn count(erp: &PgSchema, table: &str) -> i64 {
    erp.client()
        .await
        .query_one(&format!("SELECT count(*) FROM {}.{table}", erp.schema), &[])
        .await
        .unwrap()
        .get(0)
}

// --- the server ---------------------------------------------------------------------------

/// A configuration on the ERP database `database_url` with the development users
/// seeded, reading the legacy database through `mssql`.
fn server_config(database_url: &str, mssql: MssqlConfig) -> ServerConfig {
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", database_url.to_owned()),
        ("SESSION_COOKIE_SECURE", "false".to_owned()),
    ]);
    let mut config = ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.embedded_database = true; // the development users
    config.mssql = Some(MssqlSettings { config: mssql });
    config
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("erp.sqlite").display())
}

async fn call(app: &Router, method: &str, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let (status, body, _) = call_full(app, method, path, token).await;
    (status, body)
}

async fn call_full(
    app: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value, http::HeaderMap) {
    erp_server::testkit::call(app, method, path, token, None).await
}

async fn admin_token(app: &Router) -> String {
    let req = Request::builder()
        .method("POST")
        .uri("/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": "admin", "password": "admin123"}).to_string(),
        ))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Percent-encodes a query value (the CJK and Hangul search terms).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A legacy route answering 503 `LEGACY_DB_UNAVAILABLE` as problem+json.
async fn assert_legacy_unavailable(app: &Router, token: &str, path: &str) {
    let (status, body, headers) = call_full(app, "GET", path, Some(token)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
    assert_eq!(body["code"], "LEGACY_DB_UNAVAILABLE", "{path}: {body}");
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{path}"
    );
}

const LEGACY_ROUTES: [&str; 4] = [
    "/api/v1/mssql/clients?q=acme",
    "/api/v1/mssql/clients/C001",
    "/api/v1/mssql/clearance/1",
    "/api/v1/mssql/shipments?client=C001",
];

// --- item 7: the routes and the sync ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mssql_server_serves_the_legacy_routes_and_syncs_into_postgres() {
    let Some(url) = mssql_url() else { return };
    let legacy = TsqlDatabase::create(&url).await;
    legacy.load_sample("dbo").await;
    let erp = PgSchema::new("erp_s").await;
    let app = router(
        AppState::build(server_config(&erp.url, mssql_config(&legacy.url())))
            .await
            .expect("starts: the sample schema matches the default mapping"),
    );
    let t = &admin_token(&app).await;

    let (status, health) = call(&app, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["checks"]["legacy"]["status"], "ok");
    assert_eq!(health["checks"]["legacy"]["backend"], "mssql");

    // Search and paging.
    let (status, page) = call(&app, "GET", "/api/v1/mssql/clients?q=acme", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["code"], "C001");
    let (status, first) = call(
        &app,
        "GET",
        "/api/v1/mssql/clients?page=1&page_size=2",
        Some(t),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["total"], 5);
    let codes: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["C001", "C002"]);
    let (_, third) = call(
        &app,
        "GET",
        "/api/v1/mssql/clients?page=3&page_size=2",
        Some(t),
    )
    .await;
    assert_eq!(third["items"].as_array().unwrap().len(), 1, "{third}");
    assert_eq!(third["items"][0]["code"], "C005");

    // CJK and Hangul text, both ways.
    let path = format!("/api/v1/mssql/clients?q={}", encode("劉氏"));
    let (status, cjk) = call(&app, "GET", &path, Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{cjk}");
    assert_eq!(cjk["total"], 1, "{cjk}");
    assert_eq!(cjk["items"][0]["name"], "劉氏貿易有限公司");
    assert_eq!(cjk["items"][0]["contact_name"], "劉念萱");
    let path = format!("/api/v1/mssql/clients?q={}", encode("김민준"));
    let (status, hangul) = call(&app, "GET", &path, Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{hangul}");
    assert_eq!(hangul["items"][0]["code"], "C003", "{hangul}");

    // A client by code.
    let (status, kim) = call(&app, "GET", "/api/v1/mssql/clients/C003", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{kim}");
    assert_eq!(kim["name"], "김민준 무역");
    assert_eq!(kim["address"], "서울 중구");
    assert_eq!(kim["currency"], "KRW");
    let (status, body) = call(&app, "GET", "/api/v1/mssql/clients/NOPE", Some(t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Clearance records: exact decimals, CJK notes.
    let (status, rec) = call(&app, "GET", "/api/v1/mssql/clearance/1", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    assert_eq!(rec["customs_value"], "12345.6789", "{rec}");
    let (status, rec) = call(&app, "GET", "/api/v1/mssql/clearance/3", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{rec}");
    assert_eq!(rec["notes"], "茶葉 檢查");
    let (status, _) = call(&app, "GET", "/api/v1/mssql/clearance/999", Some(t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Shipments, newest departure first.
    let (status, ships) = call(&app, "GET", "/api/v1/mssql/shipments?client=C001", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{ships}");
    assert_eq!(ships["total"], 2, "{ships}");
    assert_eq!(ships["items"][0]["bl_no"], "BL-HKG-0002");

    // Sync into PostgreSQL: every row once, then nothing new.
    let (status, report) = call(&app, "POST", "/api/v1/mssql/sync", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 5 + 4 + 3, "{report}");
    assert_eq!(count(&erp, "legacy_clients").await, 5);
    assert_eq!(count(&erp, "legacy_clearance_records").await, 4);
    assert_eq!(count(&erp, "legacy_shipments").await, 3);
    let (status, again) = call(&app, "POST", "/api/v1/mssql/sync", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let rows: u64 = again["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 0, "nothing changed: {again}");
    assert_eq!(count(&erp, "legacy_clients").await, 5);

    // Writes through the T-SQL server: the version of If-Match, 412 once it is stale.
    let (_, _, headers) = call_full(&app, "GET", "/api/v1/mssql/clearance/2", Some(t)).await;
    let v1 = headers["etag"].to_str().unwrap().to_owned();
    let patch = |if_match: String, body: &'static str| {
        let app = app.clone();
        let t = t.to_owned();
        async move {
            let req = Request::builder()
                .method("PATCH")
                .uri("/api/v1/mssql/clearance/2")
                .header("authorization", format!("Bearer {t}"))
                .header("content-type", "application/json")
                .header("if-match", if_match)
                .body(Body::from(body))
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, changed) = patch(v1.clone(), r#"{"status": "CLEARED", "notes": "放行"}"#).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (changed["status"].as_str(), changed["notes"].as_str()),
        (Some("CLEARED"), Some("放行"))
    );
    let (status, stale) = patch(v1, r#"{"status": "REJECTED"}"#).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    let (_, now) = call(&app, "GET", "/api/v1/mssql/clearance/2", Some(t)).await;
    assert_eq!(now["status"], "CLEARED", "the stale write changed nothing");
    drop(app); // close the legacy pool before the database is dropped
}

// --- item 7: the command line ---------------------------------------------------------------

/// The `MSSQL_*` variables for the ADO string `ado` (the simple `key=value;` form the
/// test URLs use), with the database replaced by `database`.
fn mssql_env(ado: &str, database: &str) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("MSSQL_DATABASE", database.to_owned()),
        ("MSSQL_TRUST_CERT", "true".to_owned()),
    ];
    for pair in ado.split(';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "server" | "data source" => {
                let host = value.strip_prefix("tcp:").unwrap_or(&value);
                let (host, port) = host.split_once(',').unwrap_or((host, "1433"));
                env.push(("MSSQL_SERVER", host.to_owned()));
                env.push(("MSSQL_PORT", port.to_owned()));
            }
            "user" | "user id" | "uid" => env.push(("MSSQL_USER", value)),
            "password" | "pwd" => env.push(("MSSQL_PASSWORD", value)),
            _ => {}
        }
    }
    env
}

fn erp_server(dir: &Path, env: &[(&str, String)], args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_erp-server"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", sqlite_url(dir))
        .env("RUST_LOG", "error")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mssql_cli_check_schema_passes_and_names_a_missing_column() {
    let Some(url) = mssql_url() else { return };
    let legacy = TsqlDatabase::create(&url).await;
    legacy.load_sample("dbo").await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = mssql_env(&url, &legacy.name);

    let out = erp_server(dir.path(), &env, &["legacy", "check-schema"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the mssql legacy database matches the mapping"),
        "{stdout}"
    );

    let mapping = dir.path().join("mapping.toml");
    std::fs::write(&mapping, "[clients]\ncode = \"cust_code\"\n").unwrap();
    env.push(("LEGACY_MAPPING_FILE", mapping.display().to_string()));
    let out = erp_server(dir.path(), &env, &["legacy", "check-schema"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a missing column must fail the check"
    );
    assert!(stderr.contains("clients.cust_code"), "{stderr}");
    assert!(!stderr.contains("BbfPassw0rd"), "{stderr}");
}

// --- item 6: the start-up check in the schema the queries use ---------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mssql_legacy_tables_outside_the_default_schema_stop_the_start_or_answer_503() {
    let Some(url) = mssql_url() else { return };
    // As on `master` after a test run: the tables exist, but in another schema than
    // the one unqualified queries use (dbo).
    let legacy = TsqlDatabase::create(&url).await;
    let elsewhere = "erp_l_elsewhere";
    legacy.load_sample(elsewhere).await;
    let dir = tempfile::tempdir().unwrap();
    let config = || server_config(&sqlite_url(dir.path()), mssql_config(&legacy.url()));

    // Strict (the default): a start-up error naming every missing table.
    let err = AppState::build(config())
        .await
        .expect_err("the default schema lacks the legacy tables")
        .to_string();
    for table in ["clients", "clearance_records", "shipments"] {
        assert!(
            err.contains(&format!("table {table} does not exist")),
            "{err}"
        );
    }
    assert!(
        err.contains("LEGACY_SCHEMA_CHECK"),
        "says how to start anyway: {err}"
    );

    // A missing column is named too.
    let mut missing_column = config();
    missing_column.legacy_mapping.schema = Some(elsewhere.into());
    missing_column.legacy_mapping.clients.code = "cust_code".into();
    let err = AppState::build(missing_column)
        .await
        .expect_err("clients has no cust_code")
        .to_string();
    assert!(
        err.contains("column clients.cust_code does not exist"),
        "{err}"
    );

    // Warn: starts; /health names what is missing; the legacy routes answer 503, never 500.
    let mut warn = config();
    warn.legacy_schema_check = SchemaCheck::Warn;
    let app = router(AppState::build(warn).await.expect("warn starts anyway"));
    let t = &admin_token(&app).await;
    let (status, health) = call(&app, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    let check = &health["checks"]["legacy"];
    assert_eq!(check["status"], "down", "{health}");
    assert_eq!(check["backend"], "mssql");
    assert_eq!(
        check["missing"],
        json!([
            "table clients does not exist",
            "table clearance_records does not exist",
            "table shipments does not exist"
        ]),
        "{health}"
    );
    for path in LEGACY_ROUTES {
        assert_legacy_unavailable(&app, t, path).await;
    }
    let (status, body, headers) = call_full(&app, "POST", "/api/v1/mssql/sync", Some(t)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "LEGACY_DB_UNAVAILABLE");
    assert_eq!(headers["content-type"], "application/problem+json");
    let (status, _) = call(&app, "GET", "/auth/me", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "auth is unaffected");
    drop(app);

    // Mapped to the schema that holds them: it starts and serves.
    let mut mapped = config();
    mapped.legacy_mapping.schema = Some(elsewhere.into());
    let app = router(
        AppState::build(mapped)
            .await
            .expect("the mapped schema matches"),
    );
    let t = &admin_token(&app).await;
    let (status, c) = call(&app, "GET", "/api/v1/mssql/clients/C002", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["name"], "劉氏貿易有限公司");
    drop(app);
}

// --- item 8: an outage of the legacy database -----------------------------------------------

/// The prebuilt Babelfish folder: `ERP_BABELFISH_DIR`, else `<workspace>/../shared/babelfish`.
fn babelfish_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("ERP_BABELFISH_DIR")
        && !dir.trim().is_empty()
    {
        return Some(PathBuf::from(dir));
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/babelfish");
    beside.join("start.sh").exists().then_some(beside)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Babelfish of the test's own (stock TDS, as Aurora runs it) in a temporary
/// `BBF_HOME`: stopped and removed when the test ends, even when it fails.
struct PrivateBabelfish {
    scripts: PathBuf,
    home: Option<tempfile::TempDir>,
    env: Vec<(&'static str, String)>,
    url: String,
}

impl PrivateBabelfish {
    fn start() -> Option<Self> {
        let Some(scripts) = babelfish_dir() else {
            assert!(
                !required(),
                "ERP_REQUIRE_MSSQL=1 but no Babelfish (ERP_BABELFISH_DIR)"
            );
            erp_core::testing::skipped("no Babelfish (ERP_BABELFISH_DIR)");
            return None;
        };
        let home = tempfile::Builder::new()
            .prefix("erp-bbf-")
            .tempdir()
            .unwrap();
        // The server runs as the OS user bbf, which must reach its data below BBF_HOME.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = vec![
            ("BBF_HOME", home.path().display().to_string()),
            ("BBF_PG_PORT", free_port().to_string()),
            ("BBF_TDS_PORT", free_port().to_string()),
        ];
        let mut bbf = Self {
            scripts,
            home: Some(home),
            env,
            url: String::new(),
        };
        bbf.url = bbf.run_start();
        Some(bbf)
    }

    fn script(&self, name: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new("bash")
            .arg(self.scripts.join(name))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// Starts (or starts again) and returns the server's `MSSQL_TEST_URL`.
    fn run_start(&self) -> String {
        let out = self.script("start.sh", &["--stock-tds"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "start.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .last()
            .and_then(|l| l.strip_prefix("MSSQL_TEST_URL="))
            .unwrap_or_else(|| panic!("start.sh printed no MSSQL_TEST_URL: {stdout}"))
            .to_owned()
    }

    fn stop(&self) {
        let out = self.script("stop.sh", &[]);
        assert!(
            out.status.success(),
            "stop.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateBabelfish {
    fn drop(&mut self) {
        // Stop the server before its folder goes.
        let out = self.script("stop.sh", &[]);
        if !out.status.success() {
            eprintln!("stop.sh: {}", String::from_utf8_lossy(&out.stderr));
        }
        if let Some(home) = self.home.take()
            && let Err(e) = home.close()
        {
            eprintln!("removing BBF_HOME: {e}");
        }
    }
}

/// Polls `path` until it answers 200, for at most `limit`; returns how long it took.
async fn until_ok(app: &Router, token: &str, path: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = call(app, "GET", path, Some(token)).await;
        if status == StatusCode::OK {
            return started.elapsed();
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert!(
            started.elapsed() < limit,
            "{path} still {status} after {limit:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mssql_outage_answers_503_within_the_connect_timeout_and_recovers() {
    let Some(bbf) = tokio::task::block_in_place(PrivateBabelfish::start) else {
        return;
    };
    let connect_timeout = Duration::from_secs(2);
    let legacy_config = || mssql_config(&bbf.url).with_connect_timeout(connect_timeout);
    let loader = MssqlExecutor::connect(legacy_config()).await.unwrap();
    loader.batch_execute_raw(SCHEMA_SQL).await.unwrap();
    loader.batch_execute_raw(DATA_SQL).await.unwrap();
    drop(loader);

    let dir = tempfile::tempdir().unwrap();
    let app = router(
        AppState::build(server_config(&sqlite_url(dir.path()), legacy_config()))
            .await
            .unwrap(),
    );
    let t = &admin_token(&app).await;
    for path in LEGACY_ROUTES {
        let (status, body) = call(&app, "GET", path, Some(t)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }

    // The legacy database goes away while the server runs.
    let stopping = Instant::now();
    tokio::task::block_in_place(|| bbf.stop());
    eprintln!("stop.sh took {:?}", stopping.elapsed());
    for round in 0..3 {
        for path in LEGACY_ROUTES {
            let started = Instant::now();
            assert_legacy_unavailable(&app, t, path).await;
            let took = started.elapsed();
            assert!(
                took <= connect_timeout,
                "{path} took {took:?}, over the connect timeout"
            );
            if round == 0 {
                eprintln!("outage: {path} -> 503 in {took:?}");
            }
        }
    }
    let (status, me) = call(&app, "GET", "/auth/me", Some(t)).await;
    assert_eq!(status, StatusCode::OK, "auth is unaffected: {me}");
    let (status, health) = call(&app, "GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["checks"]["legacy"]["status"], "down", "{health}");
    assert_eq!(health["checks"]["database"]["status"], "ok", "{health}");

    // A server started while the legacy database is down starts cleanly (strict mode
    // included), with the legacy routes 503 until the database answers.
    let dir2 = tempfile::tempdir().unwrap();
    let late = router(
        AppState::build(server_config(&sqlite_url(dir2.path()), legacy_config()))
            .await
            .expect("a legacy database that is down does not stop the start"),
    );
    let t2 = &admin_token(&late).await;
    assert_legacy_unavailable(&late, t2, LEGACY_ROUTES[0]).await;
    let (_, health) = call(&late, "GET", "/health", None).await;
    assert_eq!(health["status"], "degraded", "{health}");
    let error = health["checks"]["legacy"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("not checked yet"), "{health}");

    // Back again: both recover without a restart.
    let starting = Instant::now();
    let url = tokio::task::block_in_place(|| bbf.run_start());
    assert_eq!(url, bbf.url, "same ports, same URL");
    eprintln!("start.sh (restart) took {:?}", starting.elapsed());
    let limit = Duration::from_secs(30);
    let recovered = until_ok(&app, t, LEGACY_ROUTES[0], limit).await;
    eprintln!("recovery of the running server after start.sh: {recovered:?}");
    for path in LEGACY_ROUTES {
        let (status, body) = call(&app, "GET", path, Some(t)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, health) = call(&app, "GET", "/health", None).await;
    assert_eq!(health["status"], "ok", "{health}");
    let recovered = until_ok(&late, t2, LEGACY_ROUTES[0], limit).await;
    eprintln!("recovery of the server started during the outage: {recovered:?}");
    let (_, health) = call(&late, "GET", "/health", None).await;
    assert_eq!(health["status"], "ok", "{health}");
    drop((app, late));
}
