use std::{fmt, time::Duration};

use async_trait::async_trait;

use super::{Row, Statement, UpsertRows};
use crate::{Backend, Result, TenantId};

/// On whose behalf a statement runs.
///
/// Repositories always filter tenant-owned rows by tenant themselves; the scope is the
/// second wall: on PostgreSQL a tenant-scoped statement runs in a transaction with
/// `app.current_tenant_id` set, and row-level security hides every other tenant's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Not tenant-owned data (the tenant directory, migrations, purges).
    Global,
    /// Rows of one tenant.
    Tenant(TenantId),
}

/// Runs dialect-neutral [`Statement`]s against one backend.
///
/// Every call is bounded by the executor's query timeout; a timeout or a lost
/// connection is [`Error::Unavailable`](crate::Error::Unavailable), and the connection
/// involved is discarded rather than returned to the pool.
#[async_trait]
pub trait Executor: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Runs a statement that returns rows (`SELECT`, or a write with `RETURNING`).
    async fn fetch_all(&self, scope: Scope, statement: &Statement) -> Result<Vec<Row>>;

    /// Runs a statement and returns its first row, if any.
    async fn fetch_optional(&self, scope: Scope, statement: &Statement) -> Result<Option<Row>> {
        Ok(self.fetch_all(scope, statement).await?.into_iter().next())
    }

    /// Runs a statement and returns the number of rows it affected.
    async fn execute(&self, scope: Scope, statement: &Statement) -> Result<u64>;

    /// Runs statements in order in one transaction: all take effect or none does.
    /// Returns the rows affected by each.
    async fn execute_batch(&self, scope: Scope, statements: &[Statement]) -> Result<Vec<u64>>;

    /// Writes `rows` into their table, each inserted or written over the row with the
    /// same key, then runs `then`, all in one transaction: a copy job's batch and its
    /// checkpoint take effect together or not at all. Returns the rows written.
    ///
    /// The default sends multi-row `INSERT .. ON CONFLICT (key) DO UPDATE` statements
    /// through [`Executor::execute_batch`]. PostgreSQL overrides it with a binary `COPY`
    /// into a temporary table and one merging statement, which is many times faster for
    /// large batches.
    async fn upsert_rows(
        &self,
        scope: Scope,
        rows: &UpsertRows,
        then: &[Statement],
    ) -> Result<u64> {
        let mut statements = rows.insert_statements()?;
        let inserts = statements.len();
        statements.extend_from_slice(then);
        let counts = self.execute_batch(scope, &statements).await?;
        Ok(counts.iter().take(inserts).sum())
    }

    /// Round-trips a trivial query and returns how long it took.
    async fn ping(&self) -> Result<Duration>;

    /// A statement that publishes `payload` to the other instances on this database when
    /// its transaction commits (PostgreSQL `pg_notify`), or `None` where the backend has
    /// no such channel (SQLite: one process, nothing to tell).
    fn notification(&self, _payload: &str) -> Option<Statement> {
        None
    }

    /// The column names of `table` (in `schema`, when given), empty if there is no such
    /// table. Used to check a configured mapping against the database at start-up, so
    /// it must find the table a query naming it would find: without a schema, the one
    /// the connection's default resolves to (PostgreSQL: the `search_path`; SQL Server:
    /// the default schema, then `dbo`; SQLite: temp, main, attached), never a table of
    /// that name elsewhere. The executors of this workspace override it so.
    ///
    /// The default asks `INFORMATION_SCHEMA.COLUMNS`, comparing names without regard to
    /// case; without a schema it matches the table in *any* schema, so it is only right
    /// for a backend with one schema. Override it otherwise.
    async fn table_columns(&self, schema: Option<&str>, table: &str) -> Result<Vec<String>> {
        use sea_query::{Expr, ExprTrait, Func, Query};
        let mut query = Query::select()
            .column("column_name")
            .from(("information_schema", "columns"))
            .and_where(Expr::expr(Func::lower(Expr::col("table_name"))).eq(table.to_lowercase()))
            .to_owned();
        if let Some(schema) = schema {
            query.and_where(
                Expr::expr(Func::lower(Expr::col("table_schema"))).eq(schema.to_lowercase()),
            );
        }
        self.fetch_all(Scope::Global, &query.into())
            .await?
            .iter()
            .map(|r| r.get::<String>("column_name"))
            .collect()
    }
}
