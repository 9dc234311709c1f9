use std::time::Duration;

use async_trait::async_trait;

use super::{Executor, MigrationReport, Row, Scope, Statement, UpsertRows, mask_url, migrate};
#[cfg(feature = "postgres")]
use super::{PgConfig, PgExecutor};
#[cfg(feature = "sqlite")]
use super::{SqliteConfig, SqliteExecutor};
use crate::{Backend, Error, Result};

/// Which database to open, parsed from `DATABASE_URL`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DatabaseConfig {
    /// `postgres://` or `postgresql://`.
    #[cfg(feature = "postgres")]
    Postgres(Box<PgConfig>),
    /// `sqlite:`.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteConfig),
}

impl DatabaseConfig {
    /// Parses a URL; errors name `DATABASE_URL`.
    pub fn from_url(url: &str) -> Result<Self> {
        Self::from_env_value("DATABASE_URL", url)
    }

    /// Parses a URL read from the variable `var`; errors name it and mask the password.
    pub fn from_env_value(var: &str, url: &str) -> Result<Self> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::config(var, "is empty"));
        }
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Self::Postgres(Box::new(PgConfig::from_env_value(
                var, url,
            )?))),
            #[cfg(feature = "sqlite")]
            "sqlite" => SqliteConfig::from_url(url)
                .map(Self::Sqlite)
                .map_err(|e| match e {
                    Error::Config { message, .. } => Error::config(var, message),
                    other => other,
                }),
            _ => Err(Error::config(
                var,
                format!(
                    "unsupported database URL {:?}: expected postgres://, postgresql:// or sqlite:",
                    mask_url(url)
                ),
            )),
        }
    }

    /// The backend this configuration opens.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => Backend::Postgres,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// The ERP database handle: one of the executors, chosen at start-up from a URL.
///
/// ```no_run
/// use erp_core::sql::{Database, DatabaseConfig};
///
/// # async fn run() -> erp_core::Result<()> {
/// let db = Database::connect(DatabaseConfig::from_url("sqlite://data/erp.sqlite")?).await?;
/// db.migrate().await?;
/// println!("ping: {:?}", erp_core::sql::Executor::ping(&db).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Database {
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(PgExecutor),
    /// SQLite.
    #[cfg(feature = "sqlite")]
    Sqlite(SqliteExecutor),
}

impl Database {
    /// Opens the database and checks that it answers, within the connect timeout.
    pub async fn connect(config: DatabaseConfig) -> Result<Self> {
        Ok(match config {
            #[cfg(feature = "postgres")]
            DatabaseConfig::Postgres(cfg) => Self::Postgres(PgExecutor::connect(*cfg).await?),
            #[cfg(feature = "sqlite")]
            DatabaseConfig::Sqlite(cfg) => Self::Sqlite(SqliteExecutor::connect(cfg).await?),
        })
    }

    /// Applies this backend's missing migrations; safe to call on every start.
    pub async fn migrate(&self) -> Result<MigrationReport> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(pg) => pg.migrate(migrate::POSTGRES).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(lite) => lite.migrate(migrate::SQLITE).await,
        }
    }

    /// Applies another component's migrations (`postgres` or `sqlite`, by backend),
    /// recorded in their own bookkeeping table so version numbers never collide.
    pub async fn migrate_with(
        &self,
        table: &str,
        postgres: &[migrate::Migration],
        sqlite: &[migrate::Migration],
    ) -> Result<MigrationReport> {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(pg) => pg.migrate_into(table, postgres).await,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(lite) => lite.migrate_into(table, sqlite).await,
        }
    }

    fn inner(&self) -> &dyn Executor {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(pg) => pg,
            #[cfg(feature = "sqlite")]
            Self::Sqlite(lite) => lite,
        }
    }
}

#[async_trait]
impl Executor for Database {
    fn backend(&self) -> Backend {
        self.inner().backend()
    }

    async fn fetch_all(&self, scope: Scope, statement: &Statement) -> Result<Vec<Row>> {
        self.inner().fetch_all(scope, statement).await
    }

    async fn execute(&self, scope: Scope, statement: &Statement) -> Result<u64> {
        self.inner().execute(scope, statement).await
    }

    async fn execute_batch(&self, scope: Scope, statements: &[Statement]) -> Result<Vec<u64>> {
        self.inner().execute_batch(scope, statements).await
    }

    async fn upsert_rows(
        &self,
        scope: Scope,
        rows: &UpsertRows,
        then: &[Statement],
    ) -> Result<u64> {
        self.inner().upsert_rows(scope, rows, then).await
    }

    async fn ping(&self) -> Result<Duration> {
        self.inner().ping().await
    }

    fn notification(&self, payload: &str) -> Option<Statement> {
        self.inner().notification(payload)
    }

    async fn table_columns(&self, schema: Option<&str>, table: &str) -> Result<Vec<String>> {
        self.inner().table_columns(schema, table).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_backend_from_the_scheme() {
        assert_eq!(
            DatabaseConfig::from_url("postgresql://u@localhost/erp")
                .unwrap()
                .backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseConfig::from_url("sqlite::memory:")
                .unwrap()
                .backend(),
            Backend::Sqlite
        );
    }

    #[test]
    fn rejects_unknown_schemes_naming_the_variable() {
        let err = DatabaseConfig::from_url("mysql://root:pw@localhost/erp").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("DATABASE_URL") && text.contains("mysql"),
            "{text}"
        );
        assert!(!text.contains(":pw@"), "{text}");
        assert!(DatabaseConfig::from_url("  ").is_err());
        let err = DatabaseConfig::from_env_value("X_URL", "sqlite:").unwrap_err();
        assert!(err.to_string().contains("X_URL"));
    }
}
