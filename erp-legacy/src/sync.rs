//! Legacy -> ERP database sync: incremental, batched, idempotent, resumable.
//!
//! Each table is read in `(updated_at, key)` order after its checkpoint, a batch at a
//! time. A batch's rows are upserted into the ERP copy and the checkpoint moves to the
//! batch's last row **in the same transaction**: a sync killed mid-batch loses that
//! batch's transaction and restarts from the previous checkpoint, and re-upserting rows
//! already copied changes nothing. No row is lost (the order is total: equal timestamps
//! are ordered by key) and none is duplicated (the copies are keyed by the legacy key).
//!
//! The watermark is the mapped `updated_at` column; a legacy schema with a `rowversion`
//! instead maps it there (it orders the same way).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use erp_core::{
    Backend,
    sql::{Database, Executor, Migration, MigrationReport, Scope, Statement},
};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use serde::Serialize;

use crate::{LegacyError, Result, SqlLegacyRepository};

/// Bookkeeping table of this crate's migrations in the ERP database.
pub const MIGRATIONS_TABLE: &str = "erp_legacy_migrations";

const POSTGRES: &[Migration] = &[Migration {
    version: 1,
    name: "legacy_sync",
    sql: include_str!("../migrations/postgres/V1__legacy_sync.sql"),
}];

const SQLITE: &[Migration] = &[Migration {
    version: 1,
    name: "legacy_sync",
    sql: include_str!("../migrations/sqlite/V1__legacy_sync.sql"),
}];

/// Creates (or updates) the sync's tables in the ERP database.
pub async fn migrate_target(db: &Database) -> Result<MigrationReport> {
    Ok(db.migrate_with(MIGRATIONS_TABLE, POSTGRES, SQLITE).await?)
}

/// What one table's sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The ERP copy's name.
    pub table: &'static str,
    /// Rows copied (upserted) by this run.
    pub rows: u64,
    /// Batches committed.
    pub batches: u64,
}

/// What a sync run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Per table.
    pub tables: Vec<TableReport>,
    /// Wall time.
    #[serde(with = "millis")]
    pub duration: Duration,
}

mod millis {
    pub(super) fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_millis())
    }
}

impl SyncReport {
    /// Rows copied in all.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// Copies the legacy tables from `source` into the ERP database `target`.
#[derive(Debug)]
pub struct LegacySync<S, T> {
    source: SqlLegacyRepository<S>,
    target: T,
    batch_size: u64,
}

fn a(name: &str) -> Alias {
    Alias::new(name)
}

impl<S: Executor, T: Executor> LegacySync<S, T> {
    /// A sync with batches of 1000 rows. The target must be PostgreSQL or SQLite, migrated
    /// with [`migrate_target`].
    pub fn new(source: SqlLegacyRepository<S>, target: T) -> Result<Self> {
        if !matches!(target.backend(), Backend::Postgres | Backend::Sqlite) {
            return Err(LegacyError::Config(
                "the sync target must be PostgreSQL or SQLite".into(),
            ));
        }
        Ok(Self {
            source,
            target,
            batch_size: 1000,
        })
    }

    /// Rows per batch (1..=5000).
    pub fn with_batch_size(mut self, size: u64) -> Self {
        self.batch_size = size.clamp(1, 5000);
        self
    }

    async fn checkpoint(&self, table: &str) -> Result<Option<(DateTime<Utc>, String)>> {
        let q = Query::select()
            .columns([a("watermark"), a("last_key")])
            .from(a("legacy_sync_checkpoints"))
            .and_where(Expr::col(a("table_name")).eq(table))
            .to_owned();
        let row = self.target.fetch_optional(Scope::Global, &q.into()).await?;
        Ok(match row {
            Some(r) => Some((r.get("watermark")?, r.get("last_key")?)),
            None => None,
        })
    }

    fn checkpoint_upsert(
        table: &str,
        at: DateTime<Utc>,
        key: &str,
        rows: u64,
    ) -> Result<Statement> {
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        Ok(Query::insert()
            .into_table(a("legacy_sync_checkpoints"))
            .columns([
                a("table_name"),
                a("watermark"),
                a("last_key"),
                a("rows_synced"),
                a("updated_at"),
            ])
            .values([
                table.into(),
                at.into(),
                key.into(),
                rows.into(),
                erp_core::time::now().into(),
            ])
            .map_err(|e| LegacyError::Config(e.to_string()))?
            .on_conflict(
                OnConflict::column(a("table_name"))
                    .update_columns([a("watermark"), a("last_key"), a("updated_at")])
                    .value(
                        a("rows_synced"),
                        Expr::col((a("legacy_sync_checkpoints"), a("rows_synced"))).add(rows),
                    )
                    .to_owned(),
            )
            .to_owned()
            .into())
    }

    /// Commits one batch: its upsert and the new checkpoint, atomically.
    async fn commit(
        &self,
        upsert: Statement,
        table: &str,
        at: DateTime<Utc>,
        key: &str,
        n: u64,
    ) -> Result<()> {
        let checkpoint = Self::checkpoint_upsert(table, at, key, n)?;
        self.target
            .execute_batch(Scope::Global, &[upsert, checkpoint])
            .await?;
        Ok(())
    }

    /// Runs every table to the end of what the source has now.
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

    fn upsert(table: &str, key: &str, columns: &[&str]) -> sea_query::InsertStatement {
        Query::insert()
            .into_table(a(table))
            .columns(columns.iter().map(|c| a(c)))
            .on_conflict(
                OnConflict::column(a(key))
                    .update_columns(columns.iter().filter(|c| **c != key).map(|c| a(c)))
                    .to_owned(),
            )
            .to_owned()
    }

    /// Copies one table: batches after the checkpoint until a short batch.
    async fn sync_table<R, F, Fut>(&self, spec: &TableSpec, fetch: F) -> Result<TableReport>
    where
        R: Copied,
        F: Fn(Option<(DateTime<Utc>, String)>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<R>>>,
    {
        let mut report = TableReport {
            table: spec.name,
            rows: 0,
            batches: 0,
        };
        let mut after = self.checkpoint(spec.name).await?;
        loop {
            let batch = fetch(after.clone()).await?;
            let Some(last) = batch.last() else { break };
            let mut insert = Self::upsert(spec.name, spec.key, spec.columns);
            let now = erp_core::time::now();
            for row in &batch {
                insert
                    .values(row.values(now))
                    .map_err(|e| LegacyError::Config(e.to_string()))?;
            }
            let n = batch.len() as u64;
            self.commit(insert.into(), spec.name, last.updated_at(), &last.key(), n)
                .await?;
            report.rows += n;
            report.batches += 1;
            after = Some((last.updated_at(), last.key()));
            if n < self.batch_size {
                break;
            }
        }
        Ok(report)
    }

    async fn sync_clients(&self) -> Result<TableReport> {
        self.sync_table(&CLIENTS, |after| {
            self.source.clients_changed(after, self.batch_size)
        })
        .await
    }

    async fn sync_clearance(&self) -> Result<TableReport> {
        self.sync_table(&CLEARANCE, |after| async move {
            self.source
                .clearance_changed(int_checkpoint(after)?, self.batch_size)
                .await
        })
        .await
    }

    async fn sync_shipments(&self) -> Result<TableReport> {
        self.sync_table(&SHIPMENTS, |after| async move {
            self.source
                .shipments_changed(int_checkpoint(after)?, self.batch_size)
                .await
        })
        .await
    }
}

/// Checkpoint keys are stored as text; integer keys must compare as integers.
fn int_checkpoint(cp: Option<(DateTime<Utc>, String)>) -> Result<Option<(DateTime<Utc>, i64)>> {
    cp.map(|(at, key)| match key.parse::<i64>() {
        Ok(k) => Ok((at, k)),
        Err(_) => Err(LegacyError::Config(format!(
            "corrupt checkpoint key {key:?}"
        ))),
    })
    .transpose()
}

/// An ERP copy of a legacy table.
struct TableSpec {
    name: &'static str,
    key: &'static str,
    columns: &'static [&'static str],
}

const CLIENTS: TableSpec = TableSpec {
    name: "legacy_clients",
    key: "client_code",
    columns: &[
        "client_code",
        "client_name",
        "business_reg_no",
        "contact_name",
        "contact_phone",
        "contact_email",
        "address",
        "currency",
        "is_active",
        "updated_at",
        "synced_at",
    ],
};

const CLEARANCE: TableSpec = TableSpec {
    name: "legacy_clearance_records",
    key: "clearance_id",
    columns: &[
        "clearance_id",
        "clearance_no",
        "client_code",
        "declaration_date",
        "hs_code",
        "customs_value",
        "currency",
        "duty_amount",
        "status",
        "notes",
        "updated_at",
        "synced_at",
    ],
};

const SHIPMENTS: TableSpec = TableSpec {
    name: "legacy_shipments",
    key: "shipment_id",
    columns: &[
        "shipment_id",
        "bl_no",
        "client_code",
        "container_no",
        "origin_port",
        "destination_port",
        "etd",
        "eta",
        "status",
        "updated_at",
        "synced_at",
    ],
};

/// A legacy record as the sync copies it: values in its [`TableSpec`]'s column order.
trait Copied {
    fn key(&self) -> String;
    fn updated_at(&self) -> DateTime<Utc>;
    fn values(&self, synced_at: DateTime<Utc>) -> Vec<sea_query::Expr>;
}

impl Copied for crate::Client {
    fn key(&self) -> String {
        self.code.clone()
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn values(&self, synced_at: DateTime<Utc>) -> Vec<sea_query::Expr> {
        vec![
            self.code.clone().into(),
            self.name.clone().into(),
            self.business_reg_no.clone().into(),
            self.contact_name.clone().into(),
            self.contact_phone.clone().into(),
            self.contact_email.clone().into(),
            self.address.clone().into(),
            self.currency.clone().into(),
            self.is_active.into(),
            self.updated_at.into(),
            synced_at.into(),
        ]
    }
}

impl Copied for crate::ClearanceRecord {
    fn key(&self) -> String {
        self.id.to_string()
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn values(&self, synced_at: DateTime<Utc>) -> Vec<sea_query::Expr> {
        vec![
            self.id.into(),
            self.clearance_no.clone().into(),
            self.client_code.clone().into(),
            self.declaration_date.into(),
            self.hs_code.clone().into(),
            self.customs_value.into(),
            self.currency.clone().into(),
            self.duty.into(),
            self.status.as_str().into(),
            self.notes.clone().into(),
            self.updated_at.into(),
            synced_at.into(),
        ]
    }
}

impl Copied for crate::Shipment {
    fn key(&self) -> String {
        self.id.to_string()
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn values(&self, synced_at: DateTime<Utc>) -> Vec<sea_query::Expr> {
        vec![
            self.id.into(),
            self.bl_no.clone().into(),
            self.client_code.clone().into(),
            self.container_no.clone().into(),
            self.origin.clone().into(),
            self.destination.clone().into(),
            self.etd.into(),
            self.eta.into(),
            self.status.clone().into(),
            self.updated_at.into(),
            synced_at.into(),
        ]
    }
}
