//! The command line, run as a user would run it (the built binary, a temporary database).

use std::{
    io::Write,
    process::{Command, Output, Stdio},
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
