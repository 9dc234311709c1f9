//! The one error type of `erp-legacy`.
//!
//! Like `erp_core::Error`, variants are kinds a caller acts on; a storage error keeps
//! its kind on the way up (`NotFound`, `Conflict`, `InvalidInput`, `Unavailable`,
//! `Decode`) instead of folding into [`LegacyError::Database`], and the `erp_core`
//! error stays as the source.

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
    /// A write collides with an existing record (a duplicate key): 409.
    #[error("{what} already exists")]
    Conflict {
        /// What collided, safe to show (no values), e.g. `"shipment B/L number"`.
        what: &'static str,
        /// The storage error.
        #[source]
        source: erp_core::Error,
    },
    /// Bad input (malformed id, invalid status, oversized text): 400 `VALIDATION_FAILED`.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A stored value cannot be read as the model's type (schema drift, a corrupt row).
    #[error("legacy data cannot be decoded")]
    Decode(#[source] erp_core::Error),
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
    /// A stored sync checkpoint cannot be read back (edited by hand, or written by an
    /// incompatible version): reset that table's checkpoint to resync it.
    #[error("corrupt sync checkpoint: {0}")]
    CorruptCheckpoint(String),
    /// The sync was stopped before it finished because its runtime is shutting down.
    #[error("the sync was cancelled: its runtime is shutting down")]
    Cancelled,
    /// A bug in this crate (a statement built with the wrong number of values, ...):
    /// never the caller's fault.
    #[error("internal error: {0}")]
    Internal(String),
    /// Any other database error.
    #[error("legacy database error")]
    Database(#[source] erp_core::Error),
}

impl From<erp_core::Error> for LegacyError {
    fn from(e: erp_core::Error) -> Self {
        match e {
            erp_core::Error::Unavailable { .. } => LegacyError::Unavailable(e),
            erp_core::Error::NotFound { entity } => LegacyError::NotFound(entity),
            erp_core::Error::Conflict { entity, .. } => LegacyError::Conflict {
                what: entity,
                source: e,
            },
            erp_core::Error::InvalidInput { field, message } => LegacyError::InvalidInput {
                field: "value",
                message: format!("{field}: {message}"),
            },
            erp_core::Error::Decode { .. } => LegacyError::Decode(e),
            other => LegacyError::Database(other),
        }
    }
}

/// `Result` with [`LegacyError`].
pub type Result<T, E = LegacyError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use erp_core::Backend;

    use super::*;

    #[test]
    fn storage_kinds_survive_the_conversion() {
        let conflict = LegacyError::from(erp_core::Error::Conflict {
            entity: "row",
            detail: "uq_bl_no".into(),
            source: None,
        });
        assert!(
            matches!(&conflict, LegacyError::Conflict { what: "row", source } if source.is_conflict()),
            "{conflict:?}"
        );
        assert!(matches!(
            LegacyError::from(erp_core::Error::NotFound { entity: "client" }),
            LegacyError::NotFound("client")
        ));
        assert!(matches!(
            LegacyError::from(erp_core::Error::Decode {
                column: "status".into(),
                message: "unknown".into()
            }),
            LegacyError::Decode(erp_core::Error::Decode { .. })
        ));
        assert!(matches!(
            LegacyError::from(erp_core::Error::invalid("qty", "must be positive")),
            LegacyError::InvalidInput { field: "value", .. }
        ));
        assert!(matches!(
            LegacyError::from(erp_core::Error::unavailable(Backend::Mssql, "down")),
            LegacyError::Unavailable(_)
        ));
        assert!(matches!(
            LegacyError::from(erp_core::Error::config("X", "bad")),
            LegacyError::Database(_)
        ));
    }
}
