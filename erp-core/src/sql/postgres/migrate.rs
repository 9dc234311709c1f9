use deadpool_postgres::Object;

use super::{PgExecutor, error::map_pg_error};
use crate::{
    Backend, Error, Result,
    sql::migrate::{MIGRATIONS_TABLE, Migration, MigrationReport, plan},
};

impl PgExecutor {
    /// Applies the missing `migrations` under a session-level advisory lock, so several
    /// instances starting at once apply each migration exactly once.
    pub async fn migrate(&self, migrations: &[Migration]) -> Result<MigrationReport> {
        self.migrate_into(MIGRATIONS_TABLE, migrations).await
    }

    /// Like [`PgExecutor::migrate`], recording into the bookkeeping table `table`
    /// (`[a-z_]+`), so another component's versions do not mix with erp-core's.
    pub async fn migrate_into(
        &self,
        table: &str,
        migrations: &[Migration],
    ) -> Result<MigrationReport> {
        crate::sql::migrate::check_table_name(table)?;
        let client = self.client().await?;
        match run(&client, self.config().schema(), table, migrations).await {
            Ok(report) => Ok(report),
            Err(e) => {
                // Closing the session releases the advisory lock and any half-done state.
                drop(Object::take(client));
                Err(e)
            }
        }
    }
}

async fn run(
    client: &Object,
    schema: Option<&str>,
    table: &str,
    migrations: &[Migration],
) -> Result<MigrationReport> {
    let lock_key = format!(
        "erp migrations {table} {}",
        schema.unwrap_or("<search_path>")
    );
    client
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&lock_key])
        .await
        .map_err(map_pg_error)?;
    if let Some(schema) = schema {
        // Validated by `PgConfig::with_schema`: a plain identifier.
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await
            .map_err(map_pg_error)?;
    }
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL,
                checksum TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"
        ))
        .await
        .map_err(map_pg_error)?;
    let applied: Vec<(i64, String)> = client
        .query(&format!("SELECT version, checksum FROM {table}"), &[])
        .await
        .map_err(map_pg_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (pending, already_applied) = plan(Backend::Postgres, migrations, &applied)?;
    let mut report = MigrationReport {
        backend: Backend::Postgres,
        applied: Vec::new(),
        already_applied,
    };
    for m in pending {
        let fail = |e: tokio_postgres::Error| Error::Migration {
            backend: Backend::Postgres,
            version: m.version,
            name: m.name.to_owned(),
            message: e
                .as_db_error()
                .map_or_else(|| e.to_string(), |db| db.message().to_owned()),
            source: Some(Box::new(e)),
        };
        let sql = format!(
            "BEGIN;\n{}\n;INSERT INTO {table} (version, name, checksum) VALUES ({}, '{}', '{}');\nCOMMIT;",
            m.sql,
            m.version,
            m.name.replace('\'', "''"),
            m.checksum()
        );
        client.batch_execute(&sql).await.map_err(fail)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied PostgreSQL migration"
        );
        report.applied.push(m.version);
    }
    client
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&lock_key])
        .await
        .map_err(map_pg_error)?;
    Ok(report)
}
