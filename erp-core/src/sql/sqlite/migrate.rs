use rusqlite::TransactionBehavior;

use super::{SqliteExecutor, error::map_sqlite_error};
use crate::{
    Backend, Error, Result,
    sql::migrate::{MIGRATIONS_TABLE, Migration, MigrationReport, plan},
};

impl SqliteExecutor {
    /// Applies the missing `migrations` in one `BEGIN IMMEDIATE` transaction, which
    /// also serialises processes migrating the same file at once.
    pub async fn migrate(&self, migrations: &[Migration]) -> Result<MigrationReport> {
        self.migrate_into(MIGRATIONS_TABLE, migrations).await
    }

    /// Like [`SqliteExecutor::migrate`], recording into the bookkeeping table `table`.
    pub async fn migrate_into(
        &self,
        table: &str,
        migrations: &[Migration],
    ) -> Result<MigrationReport> {
        crate::sql::migrate::check_table_name(table)?;
        let table = table.to_owned();
        let migrations = migrations.to_vec();
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_sqlite_error)?;
            tx.execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                    version INTEGER PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    checksum TEXT NOT NULL,
                    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                )"
            ))
            .map_err(map_sqlite_error)?;
            let applied = {
                let mut stmt = tx
                    .prepare(&format!("SELECT version, checksum FROM {table}"))
                    .map_err(map_sqlite_error)?;
                stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .map_err(map_sqlite_error)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(map_sqlite_error)?
            };
            let (pending, already_applied) = plan(Backend::Sqlite, &migrations, &applied)?;
            let mut report = MigrationReport {
                backend: Backend::Sqlite,
                applied: Vec::new(),
                already_applied,
            };
            for m in pending {
                let fail = |e: rusqlite::Error| Error::Migration {
                    backend: Backend::Sqlite,
                    version: m.version,
                    name: m.name.to_owned(),
                    message: e.to_string(),
                    source: Some(Box::new(e)),
                };
                tx.execute_batch(m.sql).map_err(fail)?;
                tx.execute(
                    &format!("INSERT INTO {table} (version, name, checksum) VALUES (?1, ?2, ?3)"),
                    rusqlite::params![m.version, m.name, m.checksum()],
                )
                .map_err(fail)?;
                tracing::info!(
                    version = m.version,
                    name = m.name,
                    "applied SQLite migration"
                );
                report.applied.push(m.version);
            }
            tx.commit().map_err(map_sqlite_error)?;
            Ok(report)
        })
        .await
    }
}
