//! The legacy sync inside the server: every `LEGACY_SYNC_INTERVAL`, and on
//! `POST /api/v1/mssql/sync`, by one instance of a cluster at a time.
//!
//! On PostgreSQL the runner holds a session-level advisory lock (named after the ERP
//! schema) for the whole run: the other instances' ticks find it taken and skip, and
//! an instance that dies mid-run loses its connection and with it the lock. Two runs
//! at once would not corrupt anything (each batch commits with its checkpoint), but
//! they would read the legacy database twice for nothing. On SQLite (one instance by
//! construction) a local mutex does the same.
//!
//! The last run's outcome, counts and lag are on `/health` (`checks.legacy_sync`) and
//! in the metrics (`erp_legacy_sync_*`).

use std::{
    sync::{Arc, RwLock, Weak},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use erp_core::sql::Database;
use erp_legacy::{
    LegacyError,
    sync::{SyncReport, TableReport},
};
use serde::Serialize;

use crate::legacy_db::Legacy;

/// How the last run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every table copied and reconciled.
    Ok,
    /// It stopped on an error; the next run resumes from the checkpoints.
    Failed,
}

/// One run of the sync.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// How.
    pub outcome: Outcome,
    /// Why it failed (the error's message, never a secret: no connection string).
    pub error: Option<String>,
    /// Rows copied in all.
    pub rows: u64,
    /// Rows marked deleted or removed in all.
    pub deleted: u64,
    /// Wall time.
    pub duration_ms: u64,
    /// Per table (none when it failed).
    pub tables: Vec<TableReport>,
}

/// What `/health` shows of the sync.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStatus {
    /// `LEGACY_SYNC_INTERVAL` in seconds; none: only on request.
    pub interval_s: Option<u64>,
    /// A run of this instance is in progress.
    pub running: bool,
    /// The last run of this instance.
    pub last_run: Option<LastRun>,
    /// The start of this instance's last successful run: the copy holds the legacy
    /// data as of then at the latest.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Seconds since `last_success_at`.
    pub lag_s: Option<i64>,
    /// Ticks skipped because another instance (or request) was running the sync.
    pub skipped: u64,
}

/// Why a run did not happen or did not finish.
#[derive(Debug)]
pub enum RunError {
    /// Another instance, or another request on this one, is running the sync.
    Busy,
    /// The run failed.
    Legacy(LegacyError),
}

impl From<LegacyError> for RunError {
    fn from(e: LegacyError) -> Self {
        Self::Legacy(e)
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Busy => {
                f.write_str("a legacy sync is running already (on this or another instance)")
            }
            Self::Legacy(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {}

/// Runs the sync for one server, exclusively within its cluster.
#[derive(Debug)]
pub struct SyncRunner {
    legacy: Legacy,
    db: Database,
    interval: Option<Duration>,
    local: tokio::sync::Mutex<()>,
    status: RwLock<SyncStatus>,
}

impl SyncRunner {
    /// A runner of `legacy` into `db`; [`SyncRunner::spawn`] starts the schedule.
    pub fn new(legacy: Legacy, db: Database, interval: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            legacy,
            db,
            interval,
            local: tokio::sync::Mutex::new(()),
            status: RwLock::new(SyncStatus {
                interval_s: interval.map(|i| i.as_secs()),
                ..SyncStatus::default()
            }),
        })
    }

    /// Where the sync stands.
    pub fn status(&self) -> SyncStatus {
        let mut status = self.status.read().expect("sync status").clone();
        status.lag_s = status
            .last_success_at
            .map(|at| (Utc::now() - at).num_seconds().max(0));
        status
    }

    /// Runs the interval schedule until the runner is dropped (the server's state with
    /// it): first run at once, then every interval after the previous one ended.
    pub fn spawn(self: &Arc<Self>) {
        let Some(every) = self.interval else {
            return;
        };
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(runner) = weak.upgrade() else { return };
                match runner.run_once().await {
                    Ok(_) | Err(RunError::Busy) => {}
                    // Logged and on /health by run_once; the next tick resumes.
                    Err(RunError::Legacy(_)) => {}
                }
                drop(runner);
                tokio::time::sleep(every).await;
            }
        });
    }

    /// One run now, if no other is running in the cluster: [`RunError::Busy`] if one is.
    pub async fn run_once(&self) -> Result<SyncReport, RunError> {
        let Ok(_local) = self.local.try_lock() else {
            return Err(self.skipped());
        };
        let cluster = match &self.db {
            Database::Postgres(pg) => {
                let key = lock_key(pg).await.map_err(LegacyError::from)?;
                match pg
                    .try_advisory_lock(&key)
                    .await
                    .map_err(LegacyError::from)?
                {
                    Some(lock) => Some(lock),
                    None => return Err(self.skipped()),
                }
            }
            _ => None,
        };
        self.status.write().expect("sync status").running = true;
        metrics::gauge!("erp_legacy_sync_running").set(1.0);
        let started_at = Utc::now();
        let started = Instant::now();
        let result = match self.legacy.ready() {
            Ok(source) => source.sync(self.db.clone()).await,
            Err(e) => Err(e),
        };
        if let Some(lock) = cluster
            && let Err(e) = lock.release().await
        {
            // Its session was closed instead, which releases it as well.
            tracing::warn!(error = %e, "legacy sync lock release failed");
        }
        self.finish(started_at, started.elapsed(), &result);
        result.map_err(RunError::from)
    }

    fn skipped(&self) -> RunError {
        self.status.write().expect("sync status").skipped += 1;
        metrics::counter!("erp_legacy_sync_runs_total", "outcome" => "skipped").increment(1);
        tracing::debug!("legacy sync skipped: running elsewhere");
        RunError::Busy
    }

    fn finish(
        &self,
        started_at: DateTime<Utc>,
        took: Duration,
        result: &erp_legacy::Result<SyncReport>,
    ) {
        let run = LastRun {
            started_at,
            finished_at: Utc::now(),
            outcome: if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
            error: result.as_ref().err().map(ToString::to_string),
            rows: result.as_ref().map_or(0, SyncReport::rows),
            deleted: result.as_ref().map_or(0, SyncReport::deleted),
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            tables: result
                .as_ref()
                .map(|r| r.tables.clone())
                .unwrap_or_default(),
        };
        metrics::gauge!("erp_legacy_sync_running").set(0.0);
        metrics::gauge!("erp_legacy_sync_last_duration_seconds").set(took.as_secs_f64());
        match result {
            Ok(report) => {
                metrics::counter!("erp_legacy_sync_runs_total", "outcome" => "ok").increment(1);
                metrics::gauge!("erp_legacy_sync_last_success_timestamp_seconds")
                    .set(started_at.timestamp() as f64);
                for t in &report.tables {
                    metrics::counter!("erp_legacy_sync_rows_total", "table" => t.table)
                        .increment(t.rows);
                    metrics::counter!("erp_legacy_sync_deleted_total", "table" => t.table)
                        .increment(t.deleted);
                }
            }
            Err(e) => {
                metrics::counter!("erp_legacy_sync_runs_total", "outcome" => "failed").increment(1);
                tracing::error!(error = %e, "legacy sync failed; the next run resumes from the checkpoints");
            }
        }
        let mut status = self.status.write().expect("sync status");
        status.running = false;
        if result.is_ok() {
            status.last_success_at = Some(started_at);
        }
        status.last_run = Some(run);
    }
}

/// The lock's name: per ERP schema, so deployments sharing a PostgreSQL server (or
/// test runs) do not exclude each other.
async fn lock_key(pg: &erp_core::sql::PgExecutor) -> erp_core::Result<String> {
    let rows = pg.query_raw("SELECT current_schema() AS s").await?;
    let schema: String = rows
        .first()
        .map(|r| r.get("s"))
        .transpose()?
        .unwrap_or_default();
    Ok(format!("erp legacy sync {schema}"))
}
