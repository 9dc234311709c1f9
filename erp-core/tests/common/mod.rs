//! Test harnesses: a fresh, isolated store per test on each backend.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use erp_core::{
    RateLimitStore, RefreshTokenStore, SessionStore, TenantRepository, TokenRevocationStore,
    UserRepository,
    memory::MemoryStore,
    sql::{
        Database, PgConfig, PgExecutor, SqlRateLimitStore, SqlSessionStore, SqlTenantRepository,
        SqlTokenRevocations, SqlUserRepository, SqliteConfig,
    },
};

/// The PostgreSQL server tests use; CI and the README point it at the local server.
pub fn pg_url() -> String {
    std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema name unique to this test.
pub fn unique_schema() -> String {
    format!("erp_t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// Drops the test's schema when the test ends, even when it panics.
pub struct SchemaGuard {
    pub schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let schema = self.schema.clone();
        // Drop runs inside the test's runtime: do the async cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, conn)) =
                    tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A migrated PostgreSQL database in a schema of its own.
pub async fn postgres_config() -> (PgConfig, SchemaGuard) {
    let schema = unique_schema();
    let cfg = PgConfig::from_env_value("ERP_TEST_DATABASE_URL", &pg_url())
        .expect("ERP_TEST_DATABASE_URL")
        .with_schema(schema.clone())
        .expect("schema name");
    (cfg, SchemaGuard { schema })
}

pub async fn postgres() -> (PgExecutor, SchemaGuard) {
    let (cfg, guard) = postgres_config().await;
    let exec = PgExecutor::connect(cfg).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for these tests (set ERP_TEST_DATABASE_URL, default \
             postgres://postgres@127.0.0.1:5432/test): {e}"
        )
    });
    exec.migrate(erp_core::sql::migrate::POSTGRES)
        .await
        .expect("migrate");
    (exec, guard)
}

/// A migrated SQLite file in a temporary folder of its own.
pub async fn sqlite() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::connect(erp_core::sql::DatabaseConfig::Sqlite(SqliteConfig::file(
        dir.path().join("nested/erp.sqlite"),
    )))
    .await
    .expect("open sqlite");
    db.migrate().await.expect("migrate");
    (db, dir)
}

/// What the shared suite runs against.
pub struct Harness {
    pub tenants: Arc<dyn TenantRepository>,
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionStore>,
    pub refresh: Arc<dyn RefreshTokenStore>,
    pub tokens: Arc<dyn TokenRevocationStore>,
    pub limits: Arc<dyn RateLimitStore>,
    _keep: Box<dyn std::any::Any + Send>,
}

pub async fn harness_postgres() -> Harness {
    let (exec, guard) = postgres().await;
    let db = Database::Postgres(exec);
    Harness {
        tenants: Arc::new(SqlTenantRepository::new(db.clone())),
        users: Arc::new(SqlUserRepository::new(db.clone())),
        sessions: Arc::new(SqlSessionStore::new(db.clone())),
        refresh: Arc::new(SqlSessionStore::new(db.clone())),
        tokens: Arc::new(SqlTokenRevocations::new(db.clone())),
        limits: Arc::new(SqlRateLimitStore::new(db)),
        _keep: Box::new(guard),
    }
}

pub async fn harness_sqlite() -> Harness {
    let (db, dir) = sqlite().await;
    Harness {
        tenants: Arc::new(SqlTenantRepository::new(db.clone())),
        users: Arc::new(SqlUserRepository::new(db.clone())),
        sessions: Arc::new(SqlSessionStore::new(db.clone())),
        refresh: Arc::new(SqlSessionStore::new(db.clone())),
        tokens: Arc::new(SqlTokenRevocations::new(db.clone())),
        limits: Arc::new(SqlRateLimitStore::new(db)),
        _keep: Box::new(dir),
    }
}

pub async fn harness_memory() -> Harness {
    let store = MemoryStore::new();
    Harness {
        tenants: Arc::new(store.clone()),
        users: Arc::new(store.clone()),
        sessions: Arc::new(store.clone()),
        refresh: Arc::new(store.clone()),
        tokens: Arc::new(store.clone()),
        limits: Arc::new(store),
        _keep: Box::new(()),
    }
}

/// Records a login failure and a success, reads them back newest first.
pub async fn audit_round_trip(db: Database) {
    use erp_core::{AuditSink, AuthEvent, AuthEventKind, NewTenant, sql::SqlAuditSink};
    let tenant = SqlTenantRepository::new(db.clone())
        .create(NewTenant::new("audit", "Audit"))
        .await
        .unwrap();
    let sink = SqlAuditSink::new(db);
    let failed = AuthEvent::new(tenant.id, AuthEventKind::Login)
        .failed("INVALID_CREDENTIALS")
        .with_username("劉念萱")
        .with_client(Some("198.51.100.4"), Some("curl/8"));
    sink.record(&failed).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let ok = AuthEvent::new(tenant.id, AuthEventKind::Logout).with_detail("by user");
    sink.record(&ok).await.unwrap();
    let recent = sink.recent(tenant.id, 10).await.unwrap();
    assert_eq!(recent, vec![ok, failed]);
    assert!(
        sink.recent(erp_core::TenantId::new(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}
