//! Legacy -> ERP database sync: incremental, batched, idempotent, resumable.
//!
//! Each table is read in `(updated_at, key)` order after its checkpoint, a batch at a
//! time, with statements that seek the `(updated_at, key)` index on every backend
//! ([`SqlLegacyRepository`]'s `*_changed` methods). A batch's rows are upserted into
//! the ERP copy and the checkpoint moves to the batch's last row **in the same
//! transaction** (on PostgreSQL: binary `COPY` into a temporary table, one merge, the
//! checkpoint): a sync killed mid-batch loses that batch's transaction and restarts
//! from the previous checkpoint, and re-upserting rows already copied changes nothing.
//! No row is lost (the order is total: equal timestamps are ordered by key) and none is
//! duplicated (the copies are keyed by the legacy key). While a batch is written the
//! next one is read, so memory stays bounded by two batches.
//!
//! The watermark is the mapped `updated_at` column. A table without one is read by
//! its `rowversion` column instead (the same engine, `(rowversion, key)` order), or by
//! a hash pass that reads every row in key order and writes only those whose values
//! hash differently from their copy's ([`crate::ChangeDetection`], per table in the
//! mapping's `[change_detection]`).
//!
//! Deletes leave nothing for the watermark to find: after each table's copy, a
//! reconciliation pass (`reconcile.rs`) walks the copy's keys in order, a bounded batch
//! at a time, looks them up in the legacy table, and marks the rows whose legacy row is
//! gone (`deleted_at`) or removes them, per table as the mapping's `[deletes]` says
//! ([`crate::OnDelete`]). Its cursor commits with each batch, so a killed pass resumes.

mod checkpoint;
mod engine;
mod feed;
mod hash_pass;
mod progress;
mod reconcile;
mod report;
mod row_hash;
mod spec;
mod writer;

use std::time::Instant;

use erp_core::{
    Backend,
    sql::{Database, Executor, Migration, MigrationReport},
};

use self::{
    checkpoint::Cursor,
    feed::Feed,
    progress::OnProgress,
    reconcile::{CopiedTable, KeyKind},
    spec::{CLEARANCE, CLIENTS, SHIPMENTS, TableSpec},
};
pub use self::{
    progress::Progress,
    report::{SyncReport, TableReport},
};
use crate::{ChangeDetection, LegacyError, Result, SqlLegacyRepository};

/// Bookkeeping table of this crate's migrations in the ERP database.
pub const MIGRATIONS_TABLE: &str = "erp_legacy_migrations";

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "legacy_sync",
        sql: include_str!("../../migrations/postgres/V1__legacy_sync.sql"),
    },
    Migration {
        version: 2,
        name: "legacy_sync_deletes",
        sql: include_str!("../../migrations/postgres/V2__legacy_sync_deletes.sql"),
    },
    Migration {
        version: 3,
        name: "legacy_sync_change_detection",
        sql: include_str!("../../migrations/postgres/V3__legacy_sync_change_detection.sql"),
    },
];

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "legacy_sync",
        sql: include_str!("../../migrations/sqlite/V1__legacy_sync.sql"),
    },
    Migration {
        version: 2,
        name: "legacy_sync_deletes",
        sql: include_str!("../../migrations/sqlite/V2__legacy_sync_deletes.sql"),
    },
    Migration {
        version: 3,
        name: "legacy_sync_change_detection",
        sql: include_str!("../../migrations/sqlite/V3__legacy_sync_change_detection.sql"),
    },
];

/// Creates (or updates) the sync's tables in the ERP database.
pub async fn migrate_target(db: &Database) -> Result<MigrationReport> {
    Ok(db.migrate_with(MIGRATIONS_TABLE, POSTGRES, SQLITE).await?)
}

/// Rows per batch unless [`LegacySync::with_batch_size`] says otherwise.
pub const DEFAULT_BATCH_SIZE: u64 = 10_000;

/// The largest batch [`LegacySync::with_batch_size`] accepts.
pub const MAX_BATCH_SIZE: u64 = 100_000;

/// Copies the legacy tables from `source` into the ERP database `target`.
#[derive(Debug)]
pub struct LegacySync<S, T> {
    source: SqlLegacyRepository<S>,
    target: T,
    batch_size: u64,
    progress: Option<OnProgress>,
}

impl<S: Executor + Clone + 'static, T: Executor> LegacySync<S, T> {
    /// A sync with batches of [`DEFAULT_BATCH_SIZE`] rows. The target must be
    /// PostgreSQL or SQLite, migrated with [`migrate_target`].
    pub fn new(source: SqlLegacyRepository<S>, target: T) -> Result<Self> {
        if !matches!(target.backend(), Backend::Postgres | Backend::Sqlite) {
            return Err(LegacyError::Config(
                "the sync target must be PostgreSQL or SQLite".into(),
            ));
        }
        Ok(Self {
            source,
            target,
            batch_size: DEFAULT_BATCH_SIZE,
            progress: None,
        })
    }

    /// Rows per batch (1..=[`MAX_BATCH_SIZE`]); the deletes pass looks up at most 2000
    /// keys per statement whatever this says (SQL Server's parameter limit).
    pub fn with_batch_size(mut self, size: u64) -> Self {
        self.batch_size = size.clamp(1, MAX_BATCH_SIZE);
        self
    }

    /// Calls `on` after each committed batch of the copy passes (not the deletes pass),
    /// with the legacy table's row count as the total of a first load.
    pub fn with_progress(mut self, on: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(OnProgress(std::sync::Arc::new(on)));
        self
    }

    /// With a progress callback: the callback, and the total to show against it (the
    /// legacy table's row count when the copy has no cursor of `cursor`'s kind yet, and
    /// on every hash pass, which reads the whole table).
    async fn progress_of(
        &self,
        copy: &str,
        source_table: &str,
        cursor: Cursor,
    ) -> Result<Option<(&OnProgress, Option<u64>)>> {
        let Some(on) = &self.progress else {
            return Ok(None);
        };
        let first = cursor == Cursor::Hash
            || checkpoint::load(&self.target, copy, cursor)
                .await?
                .is_none();
        let total = match first {
            false => None,
            true => Some(self.source.count_all(source_table).await?),
        };
        Ok(Some((on, total)))
    }

    /// Runs every table to the end of what the source has now, then reconciles its
    /// keys for deletes.
    pub async fn run(&self) -> Result<SyncReport> {
        let started = Instant::now();
        let tables = vec![
            self.sync_clients().await?,
            self.sync_clearance().await?,
            self.sync_shipments().await?,
        ];
        let report = SyncReport {
            tables,
            duration: started.elapsed(),
        };
        tracing::info!(
            rows = report.rows(),
            ms = report.duration.as_millis() as u64,
            "legacy sync finished"
        );
        Ok(report)
    }

    /// One table: its changes by the mapping's change detection, then its deletes.
    async fn sync_table<R: Feed<S>, const N: usize>(
        &self,
        spec: &TableSpec<R, N>,
        copy: CopiedTable<'_>,
        mode: &ChangeDetection,
    ) -> Result<TableReport> {
        let (source, limit, target) = (self.source.clone(), self.batch_size, &self.target);
        let (table, legacy_table) = (spec.table, copy.source_table);
        let mut report = match mode {
            ChangeDetection::UpdatedAt => {
                let cursor = Cursor::Watermark;
                let progress = self.progress_of(table, legacy_table, cursor).await?;
                let feed = move |after| R::changed(source.clone(), after, limit);
                engine::copy_table(target, spec, cursor, limit, progress, feed).await?
            }
            ChangeDetection::RowVersion(column) => {
                let capped = self.source.has_min_active_rowversion().await?;
                if !capped {
                    tracing::warn!(
                        table,
                        "the legacy server has no MIN_ACTIVE_ROWVERSION(): a row written by a \
                         transaction that commits after a later one was read is missed until \
                         a full resync (see docs/operations.md)"
                    );
                }
                let cursor = Cursor::RowVersion;
                let progress = self.progress_of(table, legacy_table, cursor).await?;
                let column = column.clone();
                let feed =
                    move |after| R::versioned(source.clone(), column.clone(), after, limit, capped);
                engine::copy_table(target, spec, cursor, limit, progress, feed).await?
            }
            ChangeDetection::Hash => {
                let progress = self.progress_of(table, legacy_table, Cursor::Hash).await?;
                let feed = move |after| R::by_key(source.clone(), after, limit);
                hash_pass::pass(target, spec, copy.kind, limit, progress, feed).await?
            }
        };
        report.deleted =
            reconcile::reconcile(&self.source, &self.target, copy, self.batch_size).await?;
        Ok(report)
    }

    async fn sync_clients(&self) -> Result<TableReport> {
        let m = self.source.mapping();
        let copy = CopiedTable {
            table: CLIENTS.table,
            key: CLIENTS.key,
            kind: KeyKind::Text,
            source_table: &m.clients.table,
            source_key: &m.clients.code,
            policy: m.deletes.clients,
        };
        self.sync_table(&CLIENTS, copy, &m.change_detection.clients)
            .await
    }

    async fn sync_clearance(&self) -> Result<TableReport> {
        let m = self.source.mapping();
        let copy = CopiedTable {
            table: CLEARANCE.table,
            key: CLEARANCE.key,
            kind: KeyKind::Int,
            source_table: &m.clearance.table,
            source_key: &m.clearance.id,
            policy: m.deletes.clearance,
        };
        self.sync_table(&CLEARANCE, copy, &m.change_detection.clearance)
            .await
    }

    async fn sync_shipments(&self) -> Result<TableReport> {
        let m = self.source.mapping();
        let copy = CopiedTable {
            table: SHIPMENTS.table,
            key: SHIPMENTS.key,
            kind: KeyKind::Int,
            source_table: &m.shipments.table,
            source_key: &m.shipments.id,
            policy: m.deletes.shipments,
        };
        self.sync_table(&SHIPMENTS, copy, &m.change_detection.shipments)
            .await
    }
}
