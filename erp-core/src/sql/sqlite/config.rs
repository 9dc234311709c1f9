use std::{path::PathBuf, time::Duration};

use crate::{Error, Result};

/// Where and how to open the SQLite database.
///
/// ```
/// use erp_core::sql::SqliteConfig;
///
/// let cfg = SqliteConfig::from_url("sqlite://data/erp-dev.sqlite")?;
/// assert_eq!(cfg.path().unwrap().to_str(), Some("data/erp-dev.sqlite"));
/// assert!(SqliteConfig::from_url("sqlite::memory:")?.path().is_none());
/// # Ok::<(), erp_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub(super) path: Option<PathBuf>,
    pub(super) max_connections: usize,
    pub(super) busy_timeout: Duration,
    pub(super) wait_timeout: Duration,
}

impl SqliteConfig {
    /// A database file; created with its parent folders if missing.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: Some(path.into()),
            max_connections: 4,
            busy_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
        }
    }

    /// A private in-memory database (one connection; gone when dropped). For tests.
    pub fn memory() -> Self {
        Self {
            path: None,
            max_connections: 1,
            ..Self::file("")
        }
    }

    /// Parses `sqlite://relative/path`, `sqlite:///absolute/path`, `sqlite:path` or
    /// `sqlite::memory:`. Errors name `DATABASE_URL`.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                Error::config("DATABASE_URL", format!("{url:?} is not a sqlite: URL"))
            })?;
        if rest == ":memory:" {
            return Ok(Self::memory());
        }
        if rest.is_empty() {
            return Err(Error::config("DATABASE_URL", "sqlite URL has no file path"));
        }
        if rest.contains('?') {
            return Err(Error::config(
                "DATABASE_URL",
                "sqlite URL options are not supported; give a plain file path",
            ));
        }
        Ok(Self::file(rest))
    }

    /// Largest number of open connections (default 4). SQLite allows one writer at a
    /// time; readers proceed in parallel thanks to WAL.
    pub fn with_max_connections(mut self, n: usize) -> Self {
        if self.path.is_some() {
            self.max_connections = n.max(1);
        }
        self
    }

    /// How long a writer waits for the database lock before "unavailable" (default 5 s).
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The file, or `None` for an in-memory database.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }
}
