//! Step 1: the ERP database, connected and migrated.

use std::sync::Arc;

use erp_core::{
    RevocationPublisher,
    sql::{Database, MigrationReport, SqlSessionStore, SqlTenantRepository, SqlUserRepository},
};

use super::BoxError;
use crate::config::ServerConfig;

/// What [`migrate`] applied.
#[derive(Debug)]
pub struct Migrated {
    /// The ERP tables.
    pub erp: MigrationReport,
    /// The tables the legacy sync writes.
    pub legacy_sync: MigrationReport,
}

/// Connects to `DATABASE_URL` (or the embedded file) without migrating.
pub async fn connect(config: &ServerConfig) -> Result<Database, BoxError> {
    Ok(Database::connect(config.database.clone()).await?)
}

/// Applies the ERP migrations, then those of the legacy sync's tables.
pub async fn migrate(db: &Database) -> Result<Migrated, BoxError> {
    let erp = db.migrate().await?;
    let legacy_sync = erp_legacy::sync::migrate_target(db).await?;
    Ok(Migrated { erp, legacy_sync })
}

/// [`connect`] then [`migrate`]: the database every command but `migrate` works on.
pub async fn open(config: &ServerConfig) -> Result<Database, BoxError> {
    let db = connect(config).await?;
    migrate(&db).await?;
    Ok(db)
}

/// The repositories over the ERP database that several steps share.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Users.
    pub users: Arc<SqlUserRepository>,
    /// Tenants.
    pub tenants: Arc<SqlTenantRepository>,
    /// Sessions and refresh tokens.
    pub sessions: Arc<SqlSessionStore>,
}

impl Stores {
    /// The stores of `db`.
    pub fn new(db: &Database) -> Self {
        Self::with_publisher(db, None)
    }

    /// The stores of `db`, the sessions' revocations also put on the Redis bus by
    /// `publisher` (see [`crate::revocation_feeds`]).
    pub fn with_publisher(db: &Database, publisher: Option<&Arc<dyn RevocationPublisher>>) -> Self {
        let mut sessions = SqlSessionStore::new(db.clone());
        if let Some(publisher) = publisher {
            sessions = sessions.with_publisher(publisher.clone());
        }
        Self {
            users: Arc::new(SqlUserRepository::new(db.clone())),
            tenants: Arc::new(SqlTenantRepository::new(db.clone())),
            sessions: Arc::new(sessions),
        }
    }
}
