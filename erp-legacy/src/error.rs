//! The one error type of `erp-legacy`.

/// What can go wrong with the legacy database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegacyError {
    /// The legacy database cannot answer (down, timed out, pool exhausted): 503
    /// `LEGACY_DB_UNAVAILABLE`.
    #[error("legacy database unavailable: {0}")]
    Unavailable(#[source] erp_core::Error),
    /// The addressed record does not exist: 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Bad input (malformed id, invalid status, oversized text): 400 `VALIDATION_FAILED`.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The write would break a uniqueness rule (a B/L number already booked): 409
    /// `CONFLICT`.
    #[error("{0}")]
    Conflict(&'static str),
    /// The record changed since the version the caller named (`If-Match`): 412
    /// `PRECONDITION_FAILED`; read it again and retry.
    #[error("{0} was changed by someone else")]
    PreconditionFailed(&'static str),
    /// The database does not have the tables and columns the mapping names.
    #[error("legacy schema mismatch: {}", .problems.join("; "))]
    SchemaMismatch {
        /// One line per missing table or column, naming it.
        problems: Vec<String>,
    },
    /// The mapping file or settings are invalid.
    #[error("invalid legacy configuration: {0}")]
    Config(String),
    /// Any other database error.
    #[error("legacy database error")]
    Database(#[source] erp_core::Error),
}

impl From<erp_core::Error> for LegacyError {
    fn from(e: erp_core::Error) -> Self {
        match e {
            erp_core::Error::Unavailable { .. } => LegacyError::Unavailable(e),
            erp_core::Error::InvalidInput { field, message } => LegacyError::InvalidInput {
                field: "value",
                message: format!("{field}: {message}"),
            },
            other => LegacyError::Database(other),
        }
    }
}

/// `Result` with [`LegacyError`].
pub type Result<T, E = LegacyError> = std::result::Result<T, E>;
