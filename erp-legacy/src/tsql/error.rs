//! Errors of the T-SQL backend.

/// Why a statement cannot be rendered as T-SQL, or an upsert cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsqlError {
    /// The statement uses a feature SQL Server (or Babelfish) has no equivalent for.
    /// `feature` names it; `hint` says what to do instead.
    #[error("{feature} is not supported in T-SQL: {hint}")]
    Unsupported {
        /// The construct, e.g. `INSERT ... ON CONFLICT`.
        feature: &'static str,
        /// What to use instead.
        hint: &'static str,
    },
    /// An identifier SQL Server would reject even when quoted.
    #[error("invalid T-SQL identifier {name:?}: {reason}")]
    InvalidIdentifier {
        /// The identifier as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The arguments of [`upsert_batch`](super::upsert_batch) do not describe an upsert.
    #[error("invalid upsert: {0}")]
    InvalidUpsert(&'static str),
}
