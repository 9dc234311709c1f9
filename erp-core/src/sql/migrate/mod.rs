//! Versioned schema migrations, embedded in the binary.
//!
//! Each backend has its own ordered list ([`POSTGRES`], [`SQLITE`]);
//! [`Database::migrate`](crate::sql::Database::migrate) runs the right one. A run
//! applies only what is missing, each migration in its own transaction, recorded with a checksum in
//! `erp_schema_migrations`. Concurrent starters are serialised (an advisory lock on
//! PostgreSQL, `BEGIN IMMEDIATE` on SQLite), and an applied migration whose text has
//! changed since is an error, not a silent drift.

use serde::Serialize;

use crate::Backend;

/// One migration: a version, a name and its SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Strictly increasing version.
    pub version: i64,
    /// Short name.
    pub name: &'static str,
    /// The SQL script (several statements).
    pub sql: &'static str,
}

impl Migration {
    /// FNV-1a 64 of the script: detects an applied migration edited afterwards.
    pub fn checksum(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.sql.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// The migrated backend.
    pub backend: Backend,
    /// Versions applied by this run, in order.
    pub applied: Vec<i64>,
    /// Versions that were already applied.
    pub already_applied: Vec<i64>,
}

/// Name of the bookkeeping table, the same on every backend.
pub const MIGRATIONS_TABLE: &str = "erp_schema_migrations";

/// PostgreSQL migrations of the ERP tables.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenants_users_roles",
        sql: include_str!("../../../migrations/postgres/V1__tenants_users_roles.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../../../migrations/postgres/V2__sessions.sql"),
    },
    Migration {
        version: 3,
        name: "audit_events",
        sql: include_str!("../../../migrations/postgres/V3__audit_events.sql"),
    },
    Migration {
        version: 4,
        name: "login_rate_limits",
        sql: include_str!("../../../migrations/postgres/V4__login_rate_limits.sql"),
    },
    Migration {
        version: 5,
        name: "revoked_tokens",
        sql: include_str!("../../../migrations/postgres/V5__revoked_tokens.sql"),
    },
];

/// SQLite migrations of the ERP tables.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "tenants_users_roles",
        sql: include_str!("../../../migrations/sqlite/V1__tenants_users_roles.sql"),
    },
    Migration {
        version: 2,
        name: "sessions",
        sql: include_str!("../../../migrations/sqlite/V2__sessions.sql"),
    },
    Migration {
        version: 3,
        name: "audit_events",
        sql: include_str!("../../../migrations/sqlite/V3__audit_events.sql"),
    },
    Migration {
        version: 4,
        name: "login_rate_limits",
        sql: include_str!("../../../migrations/sqlite/V4__login_rate_limits.sql"),
    },
    Migration {
        version: 5,
        name: "revoked_tokens",
        sql: include_str!("../../../migrations/sqlite/V5__revoked_tokens.sql"),
    },
];

/// Bookkeeping table names are interpolated into SQL: plain lower-case names only.
pub(crate) fn check_table_name(table: &str) -> crate::Result<()> {
    let ok = !table.is_empty()
        && table.len() <= 63
        && table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(crate::Error::config(
            "migrations table",
            format!("{table:?} is not a plain lower-case name"),
        ))
    }
}

/// Checks the applied history against the code: every applied version known to the
/// code must have the same checksum. Returns the versions still to apply, in order.
pub(crate) fn plan(
    backend: Backend,
    migrations: &[Migration],
    applied: &[(i64, String)],
) -> crate::Result<(Vec<Migration>, Vec<i64>)> {
    let mut pending = Vec::new();
    let mut done = Vec::new();
    for m in migrations {
        match applied.iter().find(|(v, _)| *v == m.version) {
            Some((_, checksum)) if *checksum == m.checksum() => done.push(m.version),
            Some(_) => {
                return Err(crate::Error::Migration {
                    backend,
                    version: m.version,
                    name: m.name.to_owned(),
                    message: "the applied script differs from this build's (edited after it \
                              was applied?); add a new migration instead"
                        .into(),
                    source: None,
                });
            }
            None => pending.push(*m),
        }
    }
    for (version, _) in applied {
        if !migrations.iter().any(|m| m.version == *version) {
            // A newer build migrated this database; an older instance in a rolling
            // deploy keeps working on the schema it knows.
            tracing::warn!(%backend, version, "database has a migration this build does not know");
        }
    }
    Ok((pending, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase() {
        for list in [POSTGRES, SQLITE] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
        }
    }

    #[test]
    fn plan_detects_edited_migrations() {
        let m = POSTGRES[0];
        let (pending, done) = plan(Backend::Postgres, POSTGRES, &[]).unwrap();
        assert_eq!(pending.len(), POSTGRES.len());
        assert!(done.is_empty());
        let (pending, done) =
            plan(Backend::Postgres, POSTGRES, &[(m.version, m.checksum())]).unwrap();
        assert_eq!(done, vec![m.version]);
        assert_eq!(pending.len(), POSTGRES.len() - 1);
        let err = plan(Backend::Postgres, POSTGRES, &[(m.version, "0".into())]).unwrap_err();
        assert!(err.to_string().contains("differs"), "{err}");
    }
}
