//! The one error type of `erp-core`.
//!
//! Variants are the *kinds* a caller acts on (retry later, answer 404, answer 409, fix
//! the configuration), not the vendor's error codes: each executor maps its driver's
//! codes onto them, the way `sqlx` maps SQLSTATEs in `DatabaseError::kind()`. PostgreSQL
//! 23505 and SQLite `SQLITE_CONSTRAINT_UNIQUE` both become [`Error::Conflict`]; the MSSQL
//! executor maps 2627/2601 the same way.

use std::fmt;

/// Boxed source error, kept so callers and logs can walk the chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which storage backend an error or an executor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL through `deadpool-postgres`.
    Postgres,
    /// Embedded SQLite through `rusqlite`.
    Sqlite,
    /// Microsoft SQL Server through `tiberius` (the legacy database).
    Mssql,
    /// The in-memory test doubles.
    Memory,
    /// Redis, a shared part of several instances (login rate limits), in `erp-auth`.
    Redis,
}

impl Backend {
    /// Stable lower-case name, used in logs, metrics and health output.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
            Backend::Mssql => "mssql",
            Backend::Memory => "memory",
            Backend::Redis => "redis",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong in `erp-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The addressed entity does not exist (in this tenant).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for, e.g. `"user"`.
        entity: &'static str,
    },

    /// A uniqueness rule was violated: the caller should answer 409 or pick another value.
    #[error("{entity} conflicts with an existing one: {detail}")]
    Conflict {
        /// What was being written, e.g. `"user"`.
        entity: &'static str,
        /// Which rule was violated, safe to show (no values).
        detail: String,
        /// The driver error, when there was one.
        #[source]
        source: Option<BoxError>,
    },

    /// The input breaks a rule of the domain or of the schema: the caller should answer 400.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The offending field or parameter.
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// A backend cannot answer now (down, pool exhausted, query timed out): retry later, answer 503.
    #[error("{backend} unavailable: {reason}")]
    Unavailable {
        /// Which backend.
        backend: Backend,
        /// Why, without secrets.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// Configuration is missing or malformed; `name` is the environment variable or setting.
    #[error("invalid configuration {name}: {message}")]
    Config {
        /// The variable or setting, e.g. `DATABASE_URL`.
        name: String,
        /// What is wrong, with secrets masked.
        message: String,
    },

    /// A schema migration failed or the applied history does not match the code.
    #[error("migration {version} ({name}) on {backend} failed: {message}")]
    Migration {
        /// Backend being migrated.
        backend: Backend,
        /// Migration version.
        version: i64,
        /// Migration name.
        name: String,
        /// What went wrong.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },

    /// A stored value could not be decoded into the domain type (schema drift, corrupt row).
    #[error("cannot decode column {column}: {message}")]
    Decode {
        /// Column name.
        column: String,
        /// What was found instead.
        message: String,
    },

    /// Any other database error: a bug or an unexpected server state.
    #[error("{backend} error")]
    Database {
        /// Backend that raised it.
        backend: Backend,
        /// The driver error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Unavailable`] without a source.
    pub fn unavailable(backend: Backend, reason: impl Into<String>) -> Self {
        Error::Unavailable {
            backend,
            reason: reason.into(),
            source: None,
        }
    }

    /// Shorthand for [`Error::Config`].
    pub fn config(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            name: name.into(),
            message: message.into(),
        }
    }

    /// True for [`Error::Conflict`].
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True for [`Error::Unavailable`]: the operation may succeed if retried later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_and_reason() {
        let err = Error::unavailable(Backend::Postgres, "pool wait timed out after 5s");
        assert_eq!(
            err.to_string(),
            "postgres unavailable: pool wait timed out after 5s"
        );
        assert!(err.is_unavailable());
        assert!(!err.is_conflict());
    }
}
