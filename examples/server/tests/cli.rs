//! The command line, run as a user would run it (the built binary, a temporary database).

mod common;

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use common::PgSchema;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, method, path},
};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_env(args, stdin, &[])
    }

    /// `run` with `env` on top (a later DATABASE_URL replaces the SQLite file).
    fn run_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_erp-server"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("erp.sqlite").display()),
            )
            .env("RUST_LOG", "error")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn every_command_has_help() {
    let cli = Cli::new();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["user", "create", "--help"],
        &["user", "set-password", "--help"],
        &["user", "set-roles", "--help"],
        &["password", "hash", "--help"],
        &["tenant", "create", "--help"],
        &["sessions", "revoke", "--help"],
        &["sessions", "purge", "--help"],
        &["legacy", "check-schema", "--help"],
        &["legacy", "sync", "--help"],
        &["external", "probe", "--help"],
        &["user", "link-external", "--help"],
    ] {
        let text = cli.ok(args, None);
        assert!(text.contains("Usage"), "{args:?}: {text}");
    }
    assert!(
        cli.fails(&["no-such-command"], None)
            .contains("unrecognized")
    );
}

#[test]
fn administration_flow() {
    let cli = Cli::new();
    assert!(cli.ok(&["migrate"], None).contains("migrated sqlite"));
    assert!(
        cli.ok(&["migrate"], None).contains("applied []"),
        "idempotent"
    );
    let hash = cli.ok(
        &["password", "hash", "--password-stdin"],
        Some("s3cret-pw\n"),
    );
    assert!(
        hash.trim().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(
        cli.ok(
            &["tenant", "create", "acme", "--name", "Acme Trading"],
            None
        )
        .contains("created tenant acme")
    );
    let err = cli.fails(&["tenant", "create", "acme", "--name", "Again"], None);
    assert!(err.contains("slug is taken"), "{err}");
    let created = cli.ok(
        &[
            "user",
            "create",
            "劉念萱",
            "--tenant",
            "acme",
            "--role",
            "accountant",
            "--display-name",
            "Liu",
            "--password-stdin",
        ],
        Some("first-pw\n"),
    );
    assert!(created.contains("created user 劉念萱"), "{created}");
    assert!(
        cli.fails(
            &[
                "user",
                "create",
                "劉念萱",
                "--tenant",
                "acme",
                "--password",
                "x"
            ],
            None
        )
        .contains("username is taken")
    );
    assert!(
        cli.fails(
            &[
                "user",
                "create",
                "bob",
                "--tenant",
                "nowhere",
                "--password",
                "x"
            ],
            None
        )
        .contains("no tenant \"nowhere\"")
    );
    assert!(
        cli.fails(&["user", "create", "bob", "--tenant", "acme"], None)
            .contains("--password-stdin")
    );
    assert!(
        cli.fails(
            &[
                "user",
                "set-roles",
                "劉念萱",
                "--tenant",
                "acme",
                "--role",
                "not a role"
            ],
            None
        )
        .contains("role")
    );
    assert!(
        cli.ok(
            &[
                "user",
                "set-roles",
                "劉念萱",
                "--tenant",
                "acme",
                "--role",
                "admin"
            ],
            None
        )
        .contains("admin")
    );
    assert!(
        cli.ok(
            &[
                "user",
                "set-password",
                "劉念萱",
                "--tenant",
                "acme",
                "--password-stdin"
            ],
            Some("second-pw\n")
        )
        .contains("replaced")
    );
    assert!(
        cli.ok(
            &["sessions", "revoke", "--tenant", "acme", "--user", "劉念萱"],
            None
        )
        .contains("revoked 0 sessions")
    );
    assert!(
        cli.fails(&["sessions", "revoke", "--tenant", "acme"], None)
            .contains("--all-users")
    );
    assert!(
        cli.ok(
            &["sessions", "revoke", "--tenant", "acme", "--all-users"],
            None
        )
        .contains("revoked")
    );
    assert!(cli.ok(&["sessions", "purge"], None).contains("purged 0"));
    // Development without MSSQL_SERVER: the sample legacy database.
    assert!(
        cli.ok(&["legacy", "check-schema"], None)
            .contains("sqlite legacy database matches the mapping")
    );
    let synced = cli.ok(&["legacy", "sync"], None);
    assert!(synced.contains("12 rows"), "{synced}");
    // Nothing new: no batch, no bar; the counts still on stdout.
    let watched = cli.run(&["legacy", "sync", "--watch"], None);
    assert!(watched.status.success());
    assert!(String::from_utf8_lossy(&watched.stdout).contains("0 rows"));
    // Production without MSSQL_SERVER: nothing to talk to, said plainly.
    let out = Command::new(env!("CARGO_BIN_EXE_erp-server"))
        .args(["legacy", "check-schema"])
        .current_dir(cli.dir.path())
        .env_clear()
        .env("ERP_ENV", "production")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", cli.dir.path().join("erp.sqlite").display()),
        )
        .env("JWT_SECRET_KEY", "a-production-secret-of-at-least-32-bytes")
        .env("SESSION_SIGN_KEY", "another-production-secret-of-32-bytes!")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("legacy database is not available"), "{err}");
}

#[test]
fn bad_configuration_is_a_clear_failure() {
    let cli = Cli::new();
    let out = Command::new(env!("CARGO_BIN_EXE_erp-server"))
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", "postgres://erp:hunter2@db:notaport/erp")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DATABASE_URL") && !err.contains("hunter2"),
        "{err}"
    );
    drop(cli);
}

#[test]
fn legacy_sync_watch_draws_a_bar_per_table_on_a_first_load() {
    let cli = Cli::new();
    let out = cli.run(&["legacy", "sync", "--watch"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for table in [
        "legacy_clients",
        "legacy_clearance_records",
        "legacy_shipments",
    ] {
        assert!(
            stderr.contains(&format!("{table} [##############################] 100 %")),
            "{table}: {stderr}"
        );
    }
    assert!(stderr.contains("5/5 rows"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("12 rows"));
}

// ---- the external auth API's operator tools ----

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-access-token-body.sig";
const ID_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.secret-id-token-body.sig";
const PASSWORD: &str = "Upstream-pw 7!";

/// The contract's 200 (DESIGN.md), without `officeLocation`.
fn contract_answer(external_id: &str) -> serde_json::Value {
    serde_json::json!({
        "success": true,
        "message": "Login successful",
        "data": {
            "access_token": TOKEN,
            "id_token": ID_TOKEN,
            "expires_in": 3600,
            "token_type": "Bearer",
            "userInfo": {
                "id": external_id,
                "name": "Alice Smith",
                "email": "alice@corp.example",
                "jobTitle": "Accountant",
                "businessPhones": ["+1 555 0100"]
            },
            "issuedAt": "2026-01-05T10:00:00Z",
            "expiresAt": "2026-01-05T11:00:00Z"
        },
        "timestamp": "2026-01-05T10:00:00Z"
    })
}

/// A fake external API answering `answer` to the right username and password, 401 with
/// the contract's rejection to anything else.
async fn fake_api(answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .and(body_json(
            serde_json::json!({"username": "a.smith", "password": PASSWORD}),
        ))
        .respond_with(answer)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "success": false,
            "error": "Invalid username or password",
            "code": "INVALID_CREDENTIALS",
            "timestamp": "2026-01-05T10:00:00Z"
        })))
        .mount(&server)
        .await;
    server
}

/// `external probe --username a.smith` against `url`, with DATABASE_URL pointing at a
/// PostgreSQL that does not exist: the probe must never need it.
fn probe(cli: &Cli, url: &str, password: &str, extra: &[(&str, &str)]) -> (bool, String, String) {
    let mut env = vec![
        ("USE_EXTERNAL_AUTH", "true"),
        ("EXTERNAL_AUTH_API_URL", url),
        ("DATABASE_URL", "postgres://erp@127.0.0.1:1/unreachable"),
    ];
    env.extend_from_slice(extra);
    let out = cli.run_env(
        &["external", "probe", "--username", "a.smith"],
        Some(&format!("{password}\n")),
        &env,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains(password),
            "the password is never shown: {text}"
        );
        assert!(
            !text.contains(TOKEN) && !text.contains(ID_TOKEN),
            "tokens are masked: {text}"
        );
    }
    (out.status.success(), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_probe_shows_the_contract_fields_and_needs_no_database() {
    let api = fake_api(ResponseTemplate::new(200).set_body_json(contract_answer("ext-7"))).await;
    let cli = Cli::new();
    let (ok, stdout, stderr) = probe(&cli, &api.uri(), PASSWORD, &[]);
    assert!(ok, "{stdout}\n{stderr}");
    for line in [
        "HTTP status 200",
        "present  /data/userInfo/id = \"ext-7\"",
        "present  /data/token_type = \"Bearer\"",
        "present  /data/access_token = eyJ0eX… (65 chars)",
        "missing  /data/userInfo/officeLocation",
        "external_user_id = \"ext-7\"",
        "username         = \"a.smith\"",
        "display_name     = Some(\"Alice Smith\")",
        "azure_email      = Some(\"alice@corp.example\")",
        "roles            = none from the API",
        "nothing was stored",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    assert_eq!(
        api.received_requests().await.unwrap().len(),
        1,
        "one attempt, no retry"
    );
    assert!(
        !cli.dir.path().join("erp.sqlite").exists(),
        "no database was opened, not even the embedded one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_probe_wrong_password_is_rejected_credentials() {
    let api = fake_api(ResponseTemplate::new(200).set_body_json(contract_answer("ext-7"))).await;
    let (ok, stdout, stderr) = probe(&Cli::new(), &api.uri(), "not-the-password", &[]);
    assert!(!ok, "exit code 1");
    assert!(stdout.contains("HTTP status 401"), "{stdout}");
    assert!(
        stdout.contains("present  /code = \"INVALID_CREDENTIALS\""),
        "{stdout}"
    );
    assert!(
        stderr.contains("rejected credentials: the external auth API refused \"a.smith\""),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_probe_api_down_timeout_and_5xx_are_named() {
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ok, _, stderr) = probe(
        &Cli::new(),
        &format!("http://127.0.0.1:{port}"),
        PASSWORD,
        &[],
    );
    assert!(!ok);
    assert!(
        stderr.contains("no answer from the external auth API: connection failed"),
        "{stderr}"
    );

    let slow = fake_api(
        ResponseTemplate::new(200)
            .set_body_json(contract_answer("ext-7"))
            .set_delay(std::time::Duration::from_secs(5)),
    )
    .await;
    let (ok, _, stderr) = probe(
        &Cli::new(),
        &slow.uri(),
        PASSWORD,
        &[("EXTERNAL_AUTH_TIMEOUT", "300ms")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("no answer from the external auth API: timed out"),
        "{stderr}"
    );

    let broken = fake_api(ResponseTemplate::new(502).set_body_string("Bad Gateway")).await;
    let (ok, stdout, stderr) = probe(&Cli::new(), &broken.uri(), PASSWORD, &[]);
    assert!(!ok);
    assert!(stdout.contains("the body is not JSON"), "{stdout}");
    assert!(
        stderr.contains("the external auth API is unavailable: status 502"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_probe_malformed_answer_names_the_missing_field() {
    let mut answer = contract_answer("ext-7");
    answer["data"]["userInfo"]
        .as_object_mut()
        .unwrap()
        .remove("id");
    let api = fake_api(ResponseTemplate::new(200).set_body_json(answer)).await;
    let (ok, stdout, stderr) = probe(&Cli::new(), &api.uri(), PASSWORD, &[]);
    assert!(!ok);
    assert!(stdout.contains("missing  /data/userInfo/id"), "{stdout}");
    assert!(
        stderr.contains("does not follow the contract") && stderr.contains("missing field `id`"),
        "{stderr}"
    );

    let api = fake_api(ResponseTemplate::new(200).set_body_string("<html>login</html>")).await;
    let (ok, _, stderr) = probe(&Cli::new(), &api.uri(), PASSWORD, &[]);
    assert!(!ok);
    assert!(stderr.contains("does not follow the contract"), "{stderr}");
}

#[test]
fn external_probe_refuses_a_password_on_the_command_line_and_an_unconfigured_api() {
    let cli = Cli::new();
    let err = cli.fails(
        &[
            "external",
            "probe",
            "--username",
            "a.smith",
            "--password",
            "x",
        ],
        None,
    );
    assert!(err.contains("unexpected argument"), "{err}");
    let out = cli.run(
        &["external", "probe", "--username", "a.smith"],
        Some("pw\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set USE_EXTERNAL_AUTH=true"), "{err}");
    let out = cli.run_env(
        &["external", "probe", "--username", "a.smith"],
        Some("\n"),
        &[
            ("USE_EXTERNAL_AUTH", "true"),
            ("EXTERNAL_AUTH_API_URL", "http://127.0.0.1:9"),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no password on standard input"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_link_external_then_an_external_login_is_that_user() {
    let pg = PgSchema::new("erp_cli").await;
    let cli = Cli::new();
    let db = [("DATABASE_URL", pg.url.as_str())];
    let ok = |args: &[&str], stdin: Option<&str>| {
        let out = cli.run_env(args, stdin, &db);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        String::from_utf8(out.stdout).unwrap()
    };
    let fails = |args: &[&str]| {
        let out = cli.run_env(args, None, &db);
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    ok(&["tenant", "create", "acme", "--name", "Acme"], None);
    let created = ok(
        &[
            "user",
            "create",
            "alice",
            "--tenant",
            "acme",
            "--role",
            "accountant",
            "--password-stdin",
        ],
        Some("local-pw-1\n"),
    );
    let alice_id = created
        .trim()
        .rsplit_once('(')
        .and_then(|(_, id)| id.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    ok(
        &[
            "user",
            "create",
            "bob",
            "--tenant",
            "acme",
            "--password-stdin",
        ],
        Some("local-pw-2\n"),
    );

    let link = &[
        "user",
        "link-external",
        "alice",
        "--tenant",
        "acme",
        "--external-id",
    ];
    let linked = ok(&[&link[..], &["ext-7"]].concat(), None);
    assert!(
        linked.contains(&format!(
            "linked alice ({alice_id}) to external id \"ext-7\""
        )),
        "{linked}"
    );
    assert!(ok(&[&link[..], &["ext-7"]].concat(), None).contains("already linked"));

    let err = fails(&[
        "user",
        "link-external",
        "bob",
        "--tenant",
        "acme",
        "--external-id",
        "ext-7",
    ]);
    assert!(
        err.contains("conflict: external id \"ext-7\" is already linked to user \"alice\""),
        "{err}"
    );
    let err = fails(&[&link[..], &["ext-8"]].concat());
    assert!(
        err.contains("conflict: the user is linked to another external user id"),
        "{err}"
    );
    let err = fails(&[
        "user",
        "link-external",
        "carol",
        "--tenant",
        "acme",
        "--external-id",
        "ext-9",
    ]);
    assert!(err.contains("no user \"carol\""), "{err}");
    let err = fails(&[
        "user",
        "link-external",
        "bob",
        "--tenant",
        "acme",
        "--external-id",
        "   ",
    ]);
    assert!(err.contains("invalid external id"), "{err}");
    let err = fails(&[
        "user",
        "link-external",
        "bob",
        "--tenant",
        "nowhere",
        "--external-id",
        "x",
    ]);
    assert!(err.contains("no tenant \"nowhere\""), "{err}");

    // A login through the external API as "a.smith" (another username) now signs in as
    // alice, with her local roles.
    let api = fake_api(ResponseTemplate::new(200).set_body_json(contract_answer("ext-7"))).await;
    let dir = tempfile::tempdir().unwrap();
    let env: std::collections::HashMap<&str, String> = std::collections::HashMap::from([
        ("DATABASE_URL", pg.url.clone()),
        ("USE_EXTERNAL_AUTH", "true".into()),
        ("EXTERNAL_AUTH_API_URL", api.uri()),
    ]);
    let mut config =
        erp_server::config::ServerConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    config.legacy_sqlite_path = Some(dir.path().join("legacy.sqlite"));
    let app = erp_server::router(erp_server::AppState::build(config).await.unwrap());
    let (status, body, _) = erp_server::testkit::call(
        &app,
        "POST",
        "/auth/login",
        None,
        Some(serde_json::json!({"tenant": "acme", "username": "a.smith", "password": PASSWORD})),
    )
    .await;
    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert_eq!(body["user"]["id"], alice_id.as_str(), "{body}");
    assert_eq!(body["user"]["username"], "alice", "{body}");
    assert!(
        body["user"]["roles"].to_string().contains("accountant"),
        "{body}"
    );
}
