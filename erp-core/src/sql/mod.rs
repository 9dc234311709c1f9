//! SQL plumbing: one statement model, many executors.
//!
//! Repositories build [`sea_query`] statements once ([`Statement`]); an [`Executor`]
//! renders them in its dialect, binds the values, runs them under a timeout and hands
//! back owned [`Row`]s. PostgreSQL ([`PgExecutor`], feature `postgres`) and SQLite
//! ([`SqliteExecutor`], feature `sqlite`) live here; the MSSQL executor of `erp-legacy`
//! implements the same trait with its own T-SQL builder.
//!
//! [`Database`] is the handle the server holds: it is built from `DATABASE_URL`, runs
//! the migrations of its backend ([`Database::migrate`]) and is itself an [`Executor`].

mod bulk;
mod database;
mod executor;
pub mod migrate;
mod row;
pub(crate) mod schema;
mod statement;
mod url;

#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod repo;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use bulk::UpsertRows;
pub use database::{Database, DatabaseConfig};
pub use executor::{Executor, Scope};
pub use migrate::{Migration, MigrationReport};
#[cfg(feature = "postgres")]
pub use postgres::{AdvisoryLock, PgConfig, PgExecutor, RevocationListener};
pub use repo::{
    SqlAuditSink, SqlRateLimitStore, SqlSessionStore, SqlTenantRepository, SqlTokenRevocations,
    SqlUserRepository,
};
pub use row::{Cell, FromCell, Row};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteConfig, SqliteExecutor};
pub use statement::Statement;
pub use url::mask_url;
