//! The legacy database as the server holds it: the source, and whether the start-up
//! check of the mapping against its catalogue has passed.
//!
//! The legacy routes only use a source whose check passed: a table or column the
//! mapping names but the database lacks is found once, at start, and named (a start-up
//! error, or with `LEGACY_SCHEMA_CHECK=warn` on `/health`), never discovered one
//! request at a time as a 500. A SQL Server that does not answer at start does not
//! keep the legacy routes dead until a restart: its executor is lazy, and the check
//! runs again in the background until the server answers.

use std::{
    sync::{Arc, RwLock, Weak},
    time::Duration,
};

use erp_core::{
    Backend,
    sql::{Database, Executor},
};
use erp_legacy::{
    LegacyError, LegacyRepository, SqlLegacyRepository,
    mssql::MssqlExecutor,
    sync::{LegacySync, SyncReport},
};

use crate::{
    config::{SchemaCheck, ServerConfig},
    seed,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// First pause before re-running a check the database could not answer; doubles up to
/// [`MAX_RECHECK_PAUSE`].
const FIRST_RECHECK_PAUSE: Duration = Duration::from_secs(1);
/// Longest pause between two background checks: how long, at worst, the legacy routes
/// stay 503 after a SQL Server that was down at start comes up.
const MAX_RECHECK_PAUSE: Duration = Duration::from_secs(10);

/// The legacy database the server reads: SQL Server, or the embedded sample.
#[derive(Debug, Clone)]
pub enum LegacySource {
    /// `MSSQL_SERVER`.
    Mssql(SqlLegacyRepository<MssqlExecutor>),
    /// The embedded sample database (development).
    Sqlite(SqlLegacyRepository<Database>),
}

impl LegacySource {
    /// The configured source, not yet checked: SQL Server through a lazy executor (no
    /// connection is made here, so a server that is down costs nothing yet), or the
    /// sample SQLite database, created if missing. `None` when neither is configured.
    pub async fn open(config: &ServerConfig) -> Result<Option<Self>, BoxError> {
        let mapping = config.legacy_mapping.clone();
        if let Some(settings) = &config.mssql {
            let exec = MssqlExecutor::lazy(settings.config.clone())?;
            return Ok(Some(Self::Mssql(SqlLegacyRepository::new(exec, mapping))));
        }
        match &config.legacy_sqlite_path {
            Some(path) => {
                let db = seed::sample_legacy(path)
                    .await
                    .map_err(|e| format!("sample legacy database {}: {e}", path.display()))?;
                Ok(Some(Self::Sqlite(SqlLegacyRepository::new(db, mapping))))
            }
            None => Ok(None),
        }
    }

    /// The repository.
    pub fn repo(&self) -> &dyn LegacyRepository {
        match self {
            Self::Mssql(r) => r,
            Self::Sqlite(r) => r,
        }
    }

    /// Checks the mapping against the catalogue, in the schema the queries use.
    pub async fn check(&self) -> erp_legacy::Result<()> {
        match self {
            Self::Mssql(r) => r.mapping().check(r.executor()).await,
            Self::Sqlite(r) => r.mapping().check(r.executor()).await,
        }
    }

    /// Copies the legacy data into `target`.
    pub async fn sync(&self, target: Database) -> erp_legacy::Result<SyncReport> {
        match self {
            Self::Mssql(r) => LegacySync::new(r.clone(), target)?.run().await,
            Self::Sqlite(r) => LegacySync::new(r.clone(), target)?.run().await,
        }
    }

    /// [`LegacySource::sync`], calling `on` after each committed batch.
    pub async fn sync_watching(
        &self,
        target: Database,
        on: impl Fn(erp_legacy::sync::Progress) + Send + Sync + 'static,
    ) -> erp_legacy::Result<SyncReport> {
        match self {
            Self::Mssql(r) => {
                LegacySync::new(r.clone(), target)?
                    .with_progress(on)
                    .run()
                    .await
            }
            Self::Sqlite(r) => {
                LegacySync::new(r.clone(), target)?
                    .with_progress(on)
                    .run()
                    .await
            }
        }
    }

    /// Round trip to the legacy database.
    pub async fn ping(&self) -> erp_core::Result<Duration> {
        match self {
            Self::Mssql(r) => r.executor().ping().await,
            Self::Sqlite(r) => r.executor().ping().await,
        }
    }

    /// `mssql` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        self.kind().as_str()
    }

    fn kind(&self) -> Backend {
        match self {
            Self::Mssql(_) => Backend::Mssql,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Where the schema check stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyStatus {
    /// The check passed: the routes use the database.
    Ready,
    /// The check could not run yet (the database did not answer, last for `reason`);
    /// it is retried in the background.
    Unchecked {
        /// The last failure.
        reason: String,
    },
    /// The database lacks tables or columns the mapping names: one line per missing
    /// name. Only with `LEGACY_SCHEMA_CHECK=warn`, or when the check first ran after
    /// start-up (a running server cannot refuse to start any more).
    Mismatch {
        /// What is missing, e.g. `column clients.client_code does not exist`.
        problems: Vec<String>,
    },
}

/// The legacy database and its check status, shared by the handlers, `/health` and the
/// background check. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Legacy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    source: LegacySource,
    // Never held across an await: read by every legacy request, written by the check.
    status: RwLock<LegacyStatus>,
}

impl Inner {
    fn set(&self, status: LegacyStatus) {
        *self.status.write().unwrap_or_else(|e| e.into_inner()) = status;
    }
}

impl Legacy {
    /// Opens the configured source and checks it. A mismatch is an error naming every
    /// missing table and column, unless `LEGACY_SCHEMA_CHECK=warn`; a database that
    /// does not answer is not an error: the check is retried in the background and the
    /// legacy routes answer 503 until it passes. `None` when no legacy database is
    /// configured.
    pub async fn start(config: &ServerConfig) -> Result<Option<Self>, BoxError> {
        let Some(source) = LegacySource::open(config).await? else {
            return Ok(None);
        };
        let warn = config.legacy_schema_check == SchemaCheck::Warn;
        let (status, recheck) = match source.check().await {
            Ok(()) => (LegacyStatus::Ready, false),
            Err(LegacyError::SchemaMismatch { problems }) if warn => {
                tracing::error!(
                    problems = %problems.join("; "),
                    "the legacy database does not match the mapping; starting anyway \
                     (LEGACY_SCHEMA_CHECK=warn): the legacy routes answer 503"
                );
                (LegacyStatus::Mismatch { problems }, false)
            }
            Err(e @ LegacyError::SchemaMismatch { .. }) => {
                return Err(format!(
                    "{e} (fix the database or LEGACY_MAPPING_FILE; LEGACY_SCHEMA_CHECK=warn \
                     starts without the legacy routes)"
                )
                .into());
            }
            Err(e @ LegacyError::Unavailable(_)) => {
                tracing::warn!(
                    error = %e,
                    "legacy database not answering at start-up: its routes answer 503 \
                     until it answers and the schema check passes (retried in the background)"
                );
                (
                    LegacyStatus::Unchecked {
                        reason: e.to_string(),
                    },
                    true,
                )
            }
            // The check itself failed (permissions on the catalogue, ...).
            Err(e) if warn => {
                tracing::error!(error = %e, "legacy schema check failed; retried in the background");
                (
                    LegacyStatus::Unchecked {
                        reason: e.to_string(),
                    },
                    true,
                )
            }
            Err(e) => return Err(format!("legacy schema check failed: {e}").into()),
        };
        let legacy = Self {
            inner: Arc::new(Inner {
                source,
                status: RwLock::new(status),
            }),
        };
        if recheck {
            spawn_recheck(Arc::downgrade(&legacy.inner));
        }
        Ok(Some(legacy))
    }

    /// The source, whatever its status.
    pub fn source(&self) -> &LegacySource {
        &self.inner.source
    }

    /// Where the schema check stands.
    pub fn status(&self) -> LegacyStatus {
        self.inner
            .status
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The source if its check passed, else what the routes answer (503
    /// `LEGACY_DB_UNAVAILABLE`).
    pub fn ready(&self) -> Result<&LegacySource, LegacyError> {
        match self.status() {
            LegacyStatus::Ready => Ok(&self.inner.source),
            LegacyStatus::Unchecked { .. } => Err(LegacyError::Unavailable(
                erp_core::Error::unavailable(self.inner.source.kind(), "schema not checked yet"),
            )),
            LegacyStatus::Mismatch { problems } => Err(LegacyError::SchemaMismatch { problems }),
        }
    }
}

/// Re-runs the check until the database answers it, with a growing pause; stops when
/// the state is dropped.
fn spawn_recheck(inner: Weak<Inner>) {
    tokio::spawn(async move {
        let mut pause = FIRST_RECHECK_PAUSE;
        loop {
            tokio::time::sleep(pause).await;
            let Some(inner) = inner.upgrade() else { return };
            match inner.source.check().await {
                Ok(()) => {
                    tracing::info!("legacy database answered and matches the mapping");
                    inner.set(LegacyStatus::Ready);
                    return;
                }
                Err(LegacyError::SchemaMismatch { problems }) => {
                    tracing::error!(
                        problems = %problems.join("; "),
                        "the legacy database does not match the mapping: the legacy routes answer 503"
                    );
                    inner.set(LegacyStatus::Mismatch { problems });
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "legacy schema check still failing");
                    inner.set(LegacyStatus::Unchecked {
                        reason: e.to_string(),
                    });
                }
            }
            pause = (pause * 2).min(MAX_RECHECK_PAUSE);
        }
    });
}
