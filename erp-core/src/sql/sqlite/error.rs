use rusqlite::ErrorCode;

use crate::{Backend, Error};

/// Maps a `rusqlite` error onto the shared kinds, like the PostgreSQL mapping does with
/// SQLSTATEs: unique/primary-key violations are conflicts, a busy or locked database is
/// unavailable.
pub(super) fn map_sqlite_error(err: rusqlite::Error) -> Error {
    const UNIQUE: i32 = 2067; // SQLITE_CONSTRAINT_UNIQUE
    const PRIMARY_KEY: i32 = 1555; // SQLITE_CONSTRAINT_PRIMARYKEY
    const FOREIGN_KEY: i32 = 787; // SQLITE_CONSTRAINT_FOREIGNKEY
    if let rusqlite::Error::SqliteFailure(ffi, message) = &err {
        match ffi.code {
            ErrorCode::ConstraintViolation => {
                return match ffi.extended_code {
                    UNIQUE | PRIMARY_KEY => Error::Conflict {
                        entity: "row",
                        detail: message
                            .clone()
                            .unwrap_or_else(|| "unique constraint".into()),
                        source: Some(Box::new(err)),
                    },
                    FOREIGN_KEY => Error::NotFound {
                        entity: "referenced row",
                    },
                    _ => Error::invalid("value", message.clone().unwrap_or_default()),
                };
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return Error::Unavailable {
                    backend: Backend::Sqlite,
                    reason: "database is locked by another writer".into(),
                    source: Some(Box::new(err)),
                };
            }
            ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::PermissionDenied => {
                return Error::Unavailable {
                    backend: Backend::Sqlite,
                    reason: format!("storage error: {err}"),
                    source: Some(Box::new(err)),
                };
            }
            _ => {}
        }
    }
    Error::Database {
        backend: Backend::Sqlite,
        source: Box::new(err),
    }
}

/// Maps a pool checkout error.
pub(super) fn map_pool_error(err: deadpool::managed::PoolError<rusqlite::Error>) -> Error {
    use deadpool::managed::PoolError;
    match err {
        PoolError::Backend(e) => map_sqlite_error(e),
        PoolError::Timeout(_) => {
            Error::unavailable(Backend::Sqlite, "timed out waiting for a connection")
        }
        other => Error::Unavailable {
            backend: Backend::Sqlite,
            reason: "cannot get a connection".into(),
            source: Some(Box::new(other)),
        },
    }
}
