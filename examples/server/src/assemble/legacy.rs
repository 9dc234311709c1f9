//! Step 9: the legacy database, checked against the mapping, and the sync runner that
//! copies it into the ERP database (scheduled by `LEGACY_SYNC_INTERVAL`).

use std::sync::Arc;

use erp_core::sql::Database;

use super::BoxError;
use crate::{config::ServerConfig, legacy_db::Legacy, legacy_sync::SyncRunner};

/// What the step built: both `None` without a legacy database.
#[derive(Debug)]
pub struct LegacySide {
    /// The legacy database (whether or not it answers yet).
    pub legacy: Option<Legacy>,
    /// Its sync into `db`, already scheduled.
    pub sync: Option<Arc<SyncRunner>>,
}

/// Opens and checks the legacy database ([`Legacy::start`]) and starts its sync runner.
pub async fn start(config: &ServerConfig, db: &Database) -> Result<LegacySide, BoxError> {
    let legacy = Legacy::start(config).await?;
    let sync = legacy.as_ref().map(|l| {
        let runner = SyncRunner::new(l.clone(), db.clone(), config.legacy_sync_interval);
        runner.spawn();
        runner
    });
    Ok(LegacySide { legacy, sync })
}
