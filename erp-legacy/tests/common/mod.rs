//! Legacy databases for tests: the sample schema and data, on PostgreSQL (a schema of
//! its own per test) and SQLite (a temporary file).
#![allow(dead_code, unreachable_pub)]

use erp_core::sql::{Database, DatabaseConfig, PgConfig, PgExecutor, SqliteConfig};

pub const PG_SCHEMA: &str = include_str!("../../sql/postgres/01_schema.sql");
pub const PG_DATA: &str = include_str!("../../sql/postgres/02_sample_data.sql");
pub const LITE_SCHEMA: &str = include_str!("../../sql/sqlite/01_schema.sql");
pub const LITE_DATA: &str = include_str!("../../sql/sqlite/02_sample_data.sql");

pub fn pg_url() -> String {
    std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Drops the schema when the test ends.
pub struct Cleanup(pub Option<String>, pub Option<tempfile::TempDir>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(schema) = self.0.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok((c, conn)) =
                        tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = c
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// An empty PostgreSQL database (own schema), not yet holding legacy tables.
pub async fn postgres_empty() -> (Database, Cleanup) {
    let schema = format!("erp_l_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let cfg = PgConfig::from_env_value("ERP_TEST_DATABASE_URL", &pg_url())
        .unwrap()
        .with_schema(schema.clone())
        .unwrap();
    let exec = PgExecutor::connect(cfg)
        .await
        .expect("PostgreSQL (ERP_TEST_DATABASE_URL) is required");
    exec.batch_execute_raw(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    (Database::Postgres(exec), Cleanup(Some(schema), None))
}

/// PostgreSQL with the sample legacy schema and data.
pub async fn postgres() -> (Database, Cleanup) {
    let (db, cleanup) = postgres_empty().await;
    let Database::Postgres(exec) = &db else {
        unreachable!()
    };
    exec.batch_execute_raw(PG_SCHEMA).await.unwrap();
    exec.batch_execute_raw(PG_DATA).await.unwrap();
    (db, cleanup)
}

/// An empty SQLite file.
pub async fn sqlite_empty() -> (Database, Cleanup) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::connect(DatabaseConfig::Sqlite(SqliteConfig::file(
        dir.path().join("legacy.sqlite"),
    )))
    .await
    .unwrap();
    (db, Cleanup(None, Some(dir)))
}

/// SQLite with the sample legacy schema and data.
pub async fn sqlite() -> (Database, Cleanup) {
    let (db, cleanup) = sqlite_empty().await;
    let Database::Sqlite(exec) = &db else {
        unreachable!()
    };
    exec.batch_execute_raw(LITE_SCHEMA).await.unwrap();
    exec.batch_execute_raw(LITE_DATA).await.unwrap();
    (db, cleanup)
}

/// The T-SQL server of the tests (`MSSQL_TEST_URL`, an ADO.NET connection string).
pub mod mssql {
    use std::time::Duration;

    use erp_legacy::mssql::{MssqlConfig, MssqlExecutor};

    pub const SCHEMA: &str = include_str!("../../sql/mssql/01_schema.sql");
    pub const DATA: &str = include_str!("../../sql/mssql/02_sample_data.sql");

    /// The configuration from `MSSQL_TEST_URL`, or `None` after saying the test is
    /// skipped. With `ERP_REQUIRE_MSSQL=1` (CI, where a server was started) a missing
    /// URL fails the test instead: a skip there would hide that nothing ran.
    pub fn config() -> Option<MssqlConfig> {
        match std::env::var("MSSQL_TEST_URL") {
            Ok(url) if !url.trim().is_empty() => Some(
                MssqlConfig::from_env_value("MSSQL_TEST_URL", &url)
                    .expect("MSSQL_TEST_URL is not a valid connection string")
                    .with_connect_timeout(Duration::from_secs(15)),
            ),
            _ if std::env::var("ERP_REQUIRE_MSSQL").as_deref() == Ok("1") => {
                panic!("ERP_REQUIRE_MSSQL=1 but MSSQL_TEST_URL is not set")
            }
            _ => {
                erp_core::testing::skipped("MSSQL_TEST_URL not set");
                None
            }
        }
    }

    /// Connects with `config`, or fails the test saying the server cannot be reached.
    pub async fn connect(config: MssqlConfig) -> MssqlExecutor {
        MssqlExecutor::connect(config)
            .await
            .expect("MSSQL_TEST_URL is set but the server cannot be reached")
    }

    /// Whether the server is Babelfish for PostgreSQL (Aurora's T-SQL endpoint), whose
    /// documented differences some tests must expect (see shared/babelfish/README.md).
    pub async fn is_babelfish(executor: &MssqlExecutor) -> bool {
        let rows = executor
            .query_raw("SELECT CAST(@@VERSION AS NVARCHAR(400)) AS v", &[])
            .await
            .expect("@@VERSION");
        rows[0]
            .get::<String>("v")
            .map(|v| v.contains("Babelfish"))
            .unwrap_or(false)
    }

    /// A name no other test run uses.
    pub fn unique(prefix: &str) -> String {
        format!(
            "erp_test_{prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..16]
        )
    }

    /// Runs its statements when dropped, in order and each on its own, so what a test
    /// created goes away even when the test panics. Register a drop right after the
    /// create it undoes; they run in reverse order of registration.
    pub struct Cleanup {
        config: MssqlConfig,
        statements: Vec<String>,
    }

    impl Cleanup {
        pub fn new(config: &MssqlConfig) -> Self {
            Self {
                config: config.clone(),
                statements: Vec::new(),
            }
        }

        pub fn push(&mut self, statement: impl Into<String>) {
            self.statements.push(statement.into());
        }
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let config = self.config.clone();
            let statements: Vec<String> = self.statements.drain(..).rev().collect();
            if statements.is_empty() {
                return;
            }
            // A test's runtime may be gone (panic) or busy: use one of our own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let Ok(executor) = MssqlExecutor::connect(config).await else {
                        eprintln!("cleanup: cannot reach the T-SQL server");
                        return;
                    };
                    for sql in statements {
                        if let Err(e) = executor.batch_execute_raw(&sql).await {
                            eprintln!("cleanup: {sql}: {e}");
                        }
                    }
                });
            })
            .join();
        }
    }
}
