//! Maps driver and pool errors onto [`Error`] kinds.

use tokio_postgres::error::SqlState;

use crate::{Backend, Error};

const PG: Backend = Backend::Postgres;

/// Maps a `tokio-postgres` error. SQLSTATE classes decide the kind: 23505 is a conflict,
/// 23503 a missing referenced row, 22/23 bad input, 08/53/57 an unavailable server.
pub(super) fn map_pg_error(err: tokio_postgres::Error) -> Error {
    let Some(db) = err.as_db_error() else {
        // No SQLSTATE: the connection broke or could not be made.
        let reason = if err.is_closed() {
            "connection closed".to_owned()
        } else {
            // tokio-postgres keeps the useful part ("Connection refused") in the source.
            match std::error::Error::source(&err) {
                Some(cause) => format!("{err}: {cause}"),
                None => err.to_string(),
            }
        };
        return Error::Unavailable {
            backend: PG,
            reason,
            source: Some(Box::new(err)),
        };
    };
    let code = db.code().clone();
    if code == SqlState::UNIQUE_VIOLATION || code == SqlState::EXCLUSION_VIOLATION {
        let detail = db
            .constraint()
            .map_or_else(|| "unique constraint".to_owned(), str::to_owned);
        return Error::Conflict {
            entity: "row",
            detail,
            source: Some(Box::new(err)),
        };
    }
    if code == SqlState::FOREIGN_KEY_VIOLATION {
        return Error::NotFound {
            entity: "referenced row",
        };
    }
    let class = &code.code()[..2];
    match class {
        "22" | "23" => Error::invalid(db.column().unwrap_or("value"), rejected_value(&code)),
        "08" | "53" | "57" | "58" => Error::Unavailable {
            backend: PG,
            reason: format!("server error {}", code.code()),
            source: Some(Box::new(err)),
        },
        _ => Error::Database {
            backend: PG,
            source: Box::new(err),
        },
    }
}

/// A fixed description of a class 22/23 rejection. The server's own message is not
/// used: it quotes the offending value (22P02 says `invalid input syntax for type
/// integer: "abc"`), and that text travels on to logs and callers.
fn rejected_value(code: &SqlState) -> String {
    let what = match code.code() {
        "22P02" => "is not valid for its type",
        "22001" => "is too long",
        "22003" => "is out of range",
        "22007" | "22008" => "is not a valid date or time",
        "22012" => "divides by zero",
        "22021" => "is not valid text in the database encoding",
        "23502" => "is required",
        "23514" => "breaks a check constraint",
        _ => "is not accepted by the database",
    };
    format!("the value {what} (SQLSTATE {})", code.code())
}

/// Maps a pool checkout error.
pub(super) fn map_pool_error(err: deadpool_postgres::PoolError) -> Error {
    use deadpool_postgres::{PoolError, TimeoutType};
    match err {
        PoolError::Backend(e) => map_pg_error(e),
        PoolError::Timeout(TimeoutType::Wait) => {
            Error::unavailable(PG, "timed out waiting for a free connection")
        }
        PoolError::Timeout(TimeoutType::Create) => {
            Error::unavailable(PG, "timed out connecting to the server")
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            Error::unavailable(PG, "timed out checking a pooled connection")
        }
        PoolError::Closed => Error::unavailable(PG, "the pool is closed"),
        other => Error::Unavailable {
            backend: PG,
            reason: "cannot get a connection".into(),
            source: Some(Box::new(other)),
        },
    }
}
