//! Maps tiberius and pool errors onto [`Error`] kinds.
//!
//! SQL Server reports a number per error; [`classify`] decides the kind from it. One
//! number is ambiguous: 547 stands for CHECK and FOREIGN KEY violations in both
//! directions, and only the message says which. Two wordings are read: SQL Server's
//! ("The INSERT statement conflicted with the CHECK constraint "ck"") and Babelfish's,
//! which is PostgreSQL's ("new row for relation "t" violates check constraint "ck"").
//! A 547 in neither wording (a server set to another language) is a plain constraint
//! violation: invalid input naming the constraint, never a guessed "not found".
//!
//! Messages shown to callers are generic: the server's own text can quote the
//! offending values (duplicate keys, truncated strings), so it only travels as the
//! `source`.

use erp_core::{Backend, Error};
use tiberius::error::Error as TdsError;

const MSSQL: Backend = Backend::Mssql;

/// What a server error number means to a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Unique constraint or unique index (2627, 2601).
    Conflict,
    /// A row still referenced by a foreign key was deleted or re-keyed (547, REFERENCE).
    StillReferenced,
    /// The row a foreign key points at does not exist (547, FOREIGN KEY).
    MissingReference,
    /// A value breaks a column rule (NULL, type, length, range, CHECK); the text is
    /// what to tell the caller.
    Invalid(&'static str),
    /// A 547 whose wording names no constraint kind: the write broke some constraint.
    Constraint,
    /// Retry later: login/database unavailable, deadlock, lock timeout, Azure
    /// throttling or a fatal (severity >= 20) error.
    Unavailable(&'static str),
    /// Anything else.
    Other,
}

/// Classifies a server error by number, severity class and message.
pub(crate) fn classify(code: u32, class: u8, message: &str) -> Kind {
    match code {
        2627 | 2601 => Kind::Conflict,
        547 => constraint_kind(message),
        515 => Kind::Invalid("must not be NULL"),
        8152 | 2628 => Kind::Invalid("value is too long for the column"),
        245 | 8114 | 8169 | 241 | 206 => Kind::Invalid("value has the wrong type or format"),
        220 | 8115 | 242 | 517 => Kind::Invalid("value is out of range for the column"),
        18456 => Kind::Unavailable("login failed"),
        18452 | 18486 | 18487 | 18488 => Kind::Unavailable("login rejected"),
        4060 => Kind::Unavailable("cannot open the database"),
        1205 => Kind::Unavailable("chosen as deadlock victim; retry"),
        1222 => Kind::Unavailable("lock request timed out"),
        // Azure SQL transient errors: database moving, busy or throttled.
        40613 | 40197 | 40501 | 49918 | 49919 | 49920 | 4221 => {
            Kind::Unavailable("server is busy or reconfiguring")
        }
        _ if class >= 20 => Kind::Unavailable("fatal server error"),
        _ => Kind::Other,
    }
}

/// The kind of constraint a 547 names, in SQL Server's or Babelfish's (PostgreSQL's)
/// wording. English either way: SQL Server translates messages for logins with another
/// language, and those come out as [`Kind::Constraint`].
fn constraint_kind(message: &str) -> Kind {
    let m = message.to_ascii_lowercase();
    if m.contains("check constraint") {
        Kind::Invalid("violates a check constraint")
    } else if m.contains("reference constraint")
        || (m.starts_with("update or delete on table") && m.contains("foreign key constraint"))
    {
        // SQL Server: "The DELETE statement conflicted with the REFERENCE constraint";
        // PostgreSQL: "update or delete on table "p" violates foreign key constraint .. on table "c"".
        Kind::StillReferenced
    } else if m.contains("foreign key constraint") {
        Kind::MissingReference
    } else {
        Kind::Constraint
    }
}

/// The name a 547 message quotes right after "constraint " in either wording.
fn constraint_name(message: &str) -> Option<&str> {
    const MARKER: &str = "constraint ";
    let lower = message.to_ascii_lowercase();
    // ASCII lower-casing keeps every byte offset, so positions carry over.
    lower
        .match_indices(MARKER)
        .find_map(|(at, _)| quoted_at(&message[at + MARKER.len()..]))
}

/// The first double-quoted name in a message (a translated 547 still quotes it).
fn first_quoted(message: &str) -> Option<&str> {
    quoted_at(&message[message.find('"')?..])
}

/// The text between the quotes following `marker`, e.g. the constraint name in
/// "Violation of UNIQUE KEY constraint 'uq_users_name'" (547 messages use `"`).
fn quoted_after<'m>(message: &'m str, marker: &str) -> Option<&'m str> {
    let start = message.find(marker)? + marker.len();
    quoted_at(&message[start..])
}

/// The text inside the `'..'` or `".."` that `text` starts with.
fn quoted_at(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &text[1..];
    rest.find(quote).map(|end| &rest[..end])
}

/// Maps a server error (number, severity, message) onto an [`Error`].
pub(crate) fn map_server(
    code: u32,
    class: u8,
    message: &str,
    source: Option<erp_core::BoxError>,
) -> Error {
    match classify(code, class, message) {
        Kind::Conflict => {
            let name = quoted_after(message, "constraint ")
                .or_else(|| quoted_after(message, "unique index "));
            Error::Conflict {
                entity: "row",
                detail: name.map_or_else(|| "unique constraint".to_owned(), str::to_owned),
                source,
            }
        }
        Kind::StillReferenced => Error::Conflict {
            entity: "row",
            detail: constraint_name(message).map_or_else(
                || "row is still referenced".to_owned(),
                |c| format!("row is still referenced ({c})"),
            ),
            source,
        },
        Kind::MissingReference => Error::NotFound {
            entity: "referenced row",
        },
        Kind::Invalid(what) => {
            let field = quoted_after(message, "column ")
                .or_else(|| (code == 547).then(|| constraint_name(message)).flatten())
                .unwrap_or("value");
            Error::invalid(field, what)
        }
        Kind::Constraint => Error::invalid(
            constraint_name(message)
                .or_else(|| first_quoted(message))
                .unwrap_or("value"),
            "violates a constraint",
        ),
        Kind::Unavailable(why) => Error::Unavailable {
            backend: MSSQL,
            reason: format!("server error {code}: {why}"),
            source,
        },
        Kind::Other => match source {
            Some(source) => Error::Database {
                backend: MSSQL,
                source,
            },
            None => Error::Database {
                backend: MSSQL,
                source: format!("server error {code}").into(),
            },
        },
    }
}

/// Maps a tiberius error raised while running a statement.
pub(crate) fn map_tds_error(err: TdsError) -> Error {
    match err {
        TdsError::Server(ref token) => {
            let (code, class) = (token.code(), token.class());
            let message = token.message().to_owned();
            map_server(code, class, &message, Some(Box::new(err)))
        }
        TdsError::Io { kind, ref message } => {
            let reason = if kind == std::io::ErrorKind::TimedOut {
                format!("timed out: {message}")
            } else {
                format!("connection lost: {message}")
            };
            Error::Unavailable {
                backend: MSSQL,
                reason,
                source: Some(Box::new(err)),
            }
        }
        TdsError::Tls(_) => Error::Unavailable {
            backend: MSSQL,
            reason: "TLS failure".into(),
            source: Some(Box::new(err)),
        },
        TdsError::Routing { ref host, port } => Error::Unavailable {
            backend: MSSQL,
            reason: format!("server redirected the connection to {host}:{port}"),
            source: Some(Box::new(err)),
        },
        // A legacy collation tiberius cannot decode: the fix is a COLLATE in the query.
        TdsError::Encoding(ref what) => Error::Decode {
            column: "(unknown)".into(),
            message: format!("{what}; add a COLLATE clause to the query"),
        },
        TdsError::Utf8 | TdsError::Utf16 => Error::Decode {
            column: "(unknown)".into(),
            message: "text is not valid Unicode".into(),
        },
        other => Error::Database {
            backend: MSSQL,
            source: Box::new(other),
        },
    }
}

/// Whether a connection that raised `err` can go back to the pool: only server
/// errors leave the response fully read and the connection in sync.
pub(crate) fn keeps_connection(err: &TdsError) -> bool {
    matches!(err, TdsError::Server(_))
}

/// Maps a tiberius error raised while connecting to `server`: whatever the cause
/// (refused, silent, TLS, login failed, database missing), the backend is unavailable.
pub(crate) fn map_connect_error(err: TdsError, server: &str) -> Error {
    let detail = match &err {
        TdsError::Server(token) => match classify(token.code(), token.class(), token.message()) {
            Kind::Unavailable(why) => format!("server error {}: {why}", token.code()),
            _ => format!("server error {}", token.code()),
        },
        TdsError::Io { message, .. } => message.clone(),
        TdsError::Tls(message) => format!("TLS failure: {message}"),
        other => other.to_string(),
    };
    Error::Unavailable {
        backend: MSSQL,
        reason: format!("cannot connect to {server}: {detail}"),
        source: Some(Box::new(err)),
    }
}

/// Maps a pool checkout error.
pub(crate) fn map_pool_error(err: deadpool::managed::PoolError<Error>, server: &str) -> Error {
    use deadpool::managed::{HookError, PoolError, TimeoutType};
    match err {
        PoolError::Backend(e) => e,
        PoolError::Timeout(TimeoutType::Wait) => Error::unavailable(
            MSSQL,
            format!("timed out waiting for a free connection to {server}"),
        ),
        PoolError::Timeout(TimeoutType::Create) => {
            Error::unavailable(MSSQL, format!("timed out connecting to {server}"))
        }
        PoolError::Timeout(TimeoutType::Recycle) => Error::unavailable(
            MSSQL,
            format!("timed out checking a pooled connection to {server}"),
        ),
        PoolError::Closed => Error::unavailable(MSSQL, "the pool is closed"),
        PoolError::NoRuntimeSpecified => Error::unavailable(MSSQL, "the pool has no runtime"),
        // No hooks are installed; mapped for completeness.
        PoolError::PostCreateHook(HookError::Backend(e)) => e,
        PoolError::PostCreateHook(HookError::Message(m)) => Error::unavailable(
            MSSQL,
            format!("cannot set up a connection to {server}: {m}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u32, message: &str) -> Error {
        map_server(code, 16, message, None)
    }

    #[test]
    fn unique_violations_are_conflicts_naming_the_constraint() {
        let err = server(
            2627,
            "Violation of UNIQUE KEY constraint 'uq_users_name'. Cannot insert duplicate key \
             in object 'dbo.users'. The duplicate key value is (bob).",
        );
        match err {
            Error::Conflict { detail, .. } => assert_eq!(detail, "uq_users_name"),
            other => panic!("{other:?}"),
        }
        let err = server(
            2601,
            "Cannot insert duplicate key row in object 'dbo.users' with unique index \
             'ix_users_email'. The duplicate key value is (a@b).",
        );
        match err {
            Error::Conflict { detail, .. } => assert_eq!(detail, "ix_users_email"),
            other => panic!("{other:?}"),
        }
        assert!(server(2627, "garbled").is_conflict());
        assert!(!server(2627, "x").to_string().contains("bob"));
    }

    #[test]
    fn error_547_depends_on_the_constraint_kind() {
        let fk = server(
            547,
            "The INSERT statement conflicted with the FOREIGN KEY constraint \"fk_x\".",
        );
        assert!(matches!(
            fk,
            Error::NotFound {
                entity: "referenced row"
            }
        ));
        let reference = server(
            547,
            "The DELETE statement conflicted with the REFERENCE constraint \"fk_orders_customer\". \
             The conflict occurred in database \"erp\", table \"dbo.orders\", column 'customer_id'.",
        );
        match reference {
            Error::Conflict { detail, .. } => {
                assert_eq!(detail, "row is still referenced (fk_orders_customer)");
            }
            other => panic!("{other:?}"),
        }
        let check = server(
            547,
            "The INSERT statement conflicted with the CHECK constraint \"ck_qty_positive\". \
             The conflict occurred in database \"erp\", table \"dbo.lines\".",
        );
        match check {
            Error::InvalidInput { field, .. } => assert_eq!(field, "ck_qty_positive"),
            other => panic!("{other:?}"),
        }
        // A wording we cannot read is a constraint violation, never "not found".
        for unknown in [
            "",
            "Die INSERT-Anweisung steht in Konflikt mit der CHECK-Einschränkung \"ck_de\".",
        ] {
            match server(547, unknown) {
                Error::InvalidInput { field, message } => {
                    assert_eq!(message, "violates a constraint");
                    assert!(field == "value" || field == "ck_de", "{field}");
                }
                other => panic!("{unknown:?}: {other:?}"),
            }
        }
    }

    /// Babelfish (Aurora) reports SQL Server's numbers with PostgreSQL's messages.
    #[test]
    fn babelfish_wordings_map_to_the_same_kinds() {
        let check = server(
            547,
            "new row for relation \"child\" violates check constraint \"ck_child_qty\"",
        );
        match check {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "ck_child_qty");
                assert_eq!(message, "violates a check constraint");
            }
            other => panic!("{other:?}"),
        }
        let missing = server(
            547,
            "insert or update on table \"child\" violates foreign key constraint \"fk_child_parent\"",
        );
        assert!(missing.is_not_found(), "{missing:?}");
        let referenced = server(
            547,
            "update or delete on table \"parent\" violates foreign key constraint \"fk_child_parent\" on table \"child\"",
        );
        match referenced {
            Error::Conflict { detail, .. } => {
                assert_eq!(detail, "row is still referenced (fk_child_parent)");
            }
            other => panic!("{other:?}"),
        }
        match server(
            2627,
            "duplicate key value violates unique constraint \"uq_parent_code\"",
        ) {
            Error::Conflict { detail, .. } => assert_eq!(detail, "uq_parent_code"),
            other => panic!("{other:?}"),
        }
        match server(
            515,
            "null value in column \"parent_id\" of relation \"child\" violates not-null constraint",
        ) {
            Error::InvalidInput { field, .. } => assert_eq!(field, "parent_id"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn column_rules_are_invalid_input() {
        let err = server(
            515,
            "Cannot insert the value NULL into column 'name', table 'erp.dbo.t'; column does \
             not allow nulls. INSERT fails.",
        );
        match err {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "name");
                assert_eq!(message, "must not be NULL");
            }
            other => panic!("{other:?}"),
        }
        let err = server(
            2628,
            "String or binary data would be truncated in table 'erp.dbo.t', column 'code'. \
             Truncated value: 'SECRETVALUE'.",
        );
        assert!(!err.to_string().contains("SECRETVALUE"), "{err}");
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "code"));
        for code in [8114, 245, 8152, 220, 8115, 241, 242, 8169] {
            assert!(
                matches!(server(code, "x"), Error::InvalidInput { .. }),
                "{code}"
            );
        }
    }

    #[test]
    fn transient_and_login_errors_are_unavailable() {
        for code in [18456, 4060, 1205, 1222, 40613, 40501, 18486] {
            let err = server(code, "x");
            assert!(err.is_unavailable(), "{code}: {err:?}");
            assert_eq!(
                match err {
                    Error::Unavailable { backend, .. } => backend,
                    _ => unreachable!(),
                },
                Backend::Mssql
            );
        }
        assert!(
            map_server(50000, 20, "fatal", None).is_unavailable(),
            "severity 20+ closes the connection"
        );
    }

    #[test]
    fn other_server_errors_are_database_errors() {
        for code in [208, 102, 50000] {
            assert!(
                matches!(
                    server(code, "x"),
                    Error::Database {
                        backend: Backend::Mssql,
                        ..
                    }
                ),
                "{code}"
            );
        }
        assert_eq!(classify(208, 16, "Invalid object name 't'."), Kind::Other);
    }

    #[test]
    fn driver_errors_map_by_kind() {
        let io = TdsError::Io {
            kind: std::io::ErrorKind::ConnectionReset,
            message: "reset by peer".into(),
        };
        assert!(!keeps_connection(&io));
        assert!(map_tds_error(io).is_unavailable());
        assert!(map_tds_error(TdsError::Tls("bad cert".into())).is_unavailable());
        assert!(
            map_tds_error(TdsError::Routing {
                host: "h".into(),
                port: 1
            })
            .is_unavailable()
        );
        assert!(matches!(
            map_tds_error(TdsError::Encoding("unsupported encoding".into())),
            Error::Decode { .. }
        ));
        assert!(matches!(
            map_tds_error(TdsError::Protocol("garbage".into())),
            Error::Database { .. }
        ));
        let refused = TdsError::Io {
            kind: std::io::ErrorKind::ConnectionRefused,
            message: "Connection refused".into(),
        };
        let err = map_connect_error(refused, "db:1433");
        assert!(
            err.to_string().contains("cannot connect to db:1433"),
            "{err}"
        );
    }

    #[test]
    fn pool_errors_are_unavailable() {
        use deadpool::managed::{PoolError, TimeoutType};
        for err in [
            PoolError::Timeout(TimeoutType::Wait),
            PoolError::Timeout(TimeoutType::Create),
            PoolError::Timeout(TimeoutType::Recycle),
            PoolError::Closed,
        ] {
            let mapped = map_pool_error(err, "db:1433");
            assert!(mapped.is_unavailable(), "{mapped:?}");
        }
        let inner = Error::unavailable(Backend::Mssql, "down");
        assert_eq!(
            map_pool_error(PoolError::Backend(inner), "db:1433").to_string(),
            "mssql unavailable: down"
        );
    }
}
