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
