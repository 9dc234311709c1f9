use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use sea_query::PostgresQueryBuilder;
use sea_query_postgres::{PostgresValue, PostgresValues};
use tokio_postgres::NoTls;

use super::{
    PgConfig, copy,
    decode::{column_names, decode_row},
    error::{map_pg_error, map_pool_error},
};
use crate::{
    Backend, Error, Result,
    sql::{Executor, Row, Scope, Statement, UpsertRows},
};

/// Executes statements on PostgreSQL through a `deadpool-postgres` pool.
///
/// Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct PgExecutor {
    pool: Pool,
    settings: Arc<PgConfig>,
}

impl fmt::Debug for PgExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgExecutor")
            .field("config", &self.settings)
            .field("status", &self.pool.status())
            .finish()
    }
}

/// What one statement of a call should produce.
#[derive(Clone, Copy)]
enum Want {
    Rows,
    Count,
}

enum Output {
    Rows(Vec<Row>),
    Count(u64),
}

impl PgExecutor {
    /// Builds the pool and opens one connection to prove the server answers. A server
    /// that is down or silent is reported as [`Error::Unavailable`] after at most the
    /// connect timeout, never a hang.
    pub async fn connect(config: PgConfig) -> Result<Self> {
        let executor = Self::lazy(config)?;
        let started = Instant::now();
        drop(executor.client().await.map_err(|e| match e {
            Error::Unavailable { reason, source, .. } => Error::Unavailable {
                backend: Backend::Postgres,
                reason: format!(
                    "cannot reach {} (gave up after {} ms): {reason}",
                    executor.settings.masked_url,
                    started.elapsed().as_millis()
                ),
                source,
            },
            other => other,
        })?);
        Ok(executor)
    }

    /// Builds the pool without connecting; the first call connects.
    pub fn lazy(config: PgConfig) -> Result<Self> {
        let manager = Manager::from_config(
            config.pg.clone(),
            NoTls,
            ManagerConfig {
                // `Fast` trusts `is_closed()`: a broken connection is still caught by the
                // first query on it, which then reports "unavailable", and is dropped.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_size)
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::config("DATABASE_URL", format!("cannot build pool: {e}")))?;
        Ok(Self {
            pool,
            settings: Arc::new(config),
        })
    }

    /// The configuration this executor was built with.
    pub fn config(&self) -> &PgConfig {
        &self.settings
    }

    /// The underlying pool, for code that needs a raw `tokio-postgres` client.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub(super) async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(map_pool_error)
    }

    /// Runs raw SQL text (several statements allowed, no parameters) under the query
    /// timeout. For administration and tests; application queries go through
    /// [`Executor`] with sea-query statements.
    pub async fn batch_execute_raw(&self, sql: &str) -> Result<()> {
        let client = self.client().await?;
        let cancel = client.cancel_token();
        let outcome = tokio::time::timeout(self.settings.query_timeout, async {
            client.batch_execute(sql).await.map_err(Fail::Pg)
        })
        .await;
        self.finish(client, cancel, outcome)
    }

    /// Runs a raw parameterless query and returns its rows, under the query timeout.
    pub async fn query_raw(&self, sql: &str) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let cancel = client.cancel_token();
        let work = async {
            let stmt = client.prepare(sql).await?;
            let columns = column_names(&stmt);
            let rows = client.query(&stmt, &[]).await?;
            let rows = rows
                .iter()
                .map(|r| decode_row(&columns, r))
                .collect::<Result<Vec<_>>>()
                .map_err(Fail::Decode)?;
            Ok::<_, Fail>(rows)
        };
        let outcome = tokio::time::timeout(self.settings.query_timeout, work).await;
        self.finish(client, cancel, outcome)
    }

    /// Turns a timed call's outcome into a result. On timeout the server-side query is
    /// cancelled and the connection discarded: it may still be mid-response, and a
    /// connection out of sync must never go back to the pool.
    fn finish<T>(
        &self,
        client: Object,
        cancel: tokio_postgres::CancelToken,
        outcome: Result<Result<T, Fail>, tokio::time::error::Elapsed>,
    ) -> Result<T> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Fail::Decode(e))) => Err(e),
            Ok(Err(Fail::Encode(e))) => {
                // Abandoned mid-COPY: the protocol is back in step after the driver's
                // CopyFail, but a connection in that state is not worth trusting.
                drop(Object::take(client));
                Err(e)
            }
            Ok(Err(Fail::Pg(e))) => {
                if e.is_closed() || e.as_db_error().is_none() {
                    drop(Object::take(client));
                }
                Err(map_pg_error(e))
            }
            Err(_) => {
                drop(Object::take(client));
                tokio::spawn(async move {
                    if let Err(e) = cancel.cancel_query(NoTls).await {
                        tracing::debug!(error = %e, "could not cancel a timed-out query");
                    }
                });
                Err(Error::unavailable(
                    Backend::Postgres,
                    format!("query timed out after {:?}", self.settings.query_timeout),
                ))
            }
        }
    }

    /// The path every [`Executor`] call but [`Executor::upsert_rows`] takes. A tenant
    /// scope or several statements need a transaction (see [`set_scope`]).
    async fn run(&self, scope: Scope, statements: &[Statement], want: Want) -> Result<Vec<Output>> {
        let mut client = self.client().await?;
        let cancel = client.cancel_token();
        let work = async {
            let mut out = Vec::with_capacity(statements.len());
            if statements.len() > 1 || matches!(scope, Scope::Tenant(_)) {
                let tx = client.transaction().await?;
                set_scope(&tx, scope).await?;
                for stmt in statements {
                    out.push(run_one(&tx, stmt, want).await?);
                }
                tx.commit().await?;
            } else {
                for stmt in statements {
                    out.push(run_one(&client, stmt, want).await?);
                }
            }
            Ok::<_, Fail>(out)
        };
        let outcome = tokio::time::timeout(self.settings.query_timeout, work).await;
        let out = self.finish(client, cancel, outcome)?;
        Ok(out)
    }

    /// [`Executor::upsert_rows`]: the rows through binary `COPY` and one merge, then
    /// `then`, in one transaction under the query timeout.
    async fn copy_upsert(
        &self,
        scope: Scope,
        rows: &UpsertRows,
        then: &[Statement],
    ) -> Result<u64> {
        let mut client = self.client().await?;
        let cancel = client.cancel_token();
        let work = async {
            let tx = client.transaction().await?;
            set_scope(&tx, scope).await?;
            let written = copy::upsert(&tx, rows).await?;
            for stmt in then {
                run_one(&tx, stmt, Want::Count).await?;
            }
            tx.commit().await?;
            Ok::<_, Fail>(written)
        };
        let outcome = tokio::time::timeout(self.settings.query_timeout, work).await;
        self.finish(client, cancel, outcome)
    }
}

/// The tenant setting is `SET LOCAL`-style (`set_config(.., true)`) so it can never
/// outlive the transaction and leak into the next borrower of the connection.
async fn set_scope(
    tx: &deadpool_postgres::Transaction<'_>,
    scope: Scope,
) -> Result<(), tokio_postgres::Error> {
    if let Scope::Tenant(tenant) = scope {
        tx.execute(
            "SELECT set_config('app.current_tenant_id', $1, true)",
            &[&tenant.to_string()],
        )
        .await?;
    }
    Ok(())
}

/// Why a call failed before it was mapped: the driver's error decides whether the
/// connection is still usable, a decode error leaves it in sync, an encode error
/// (a value that does not fit its column, found mid-COPY) costs the connection.
pub(super) enum Fail {
    Pg(tokio_postgres::Error),
    Decode(Error),
    Encode(Error),
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Pg(e)
    }
}

async fn run_one(
    client: &impl GenericClient,
    stmt: &Statement,
    want: Want,
) -> Result<Output, Fail> {
    let (sql, values) = stmt.build(&PostgresQueryBuilder);
    let values = PostgresValues(values.into_iter().map(PostgresValue).collect());
    let params = values.as_params();
    let prepared = client.prepare_cached(&sql).await?;
    Ok(match want {
        Want::Rows => {
            let rows = client.query(&prepared, &params).await?;
            let columns = column_names(&prepared);
            let rows = rows
                .iter()
                .map(|r| decode_row(&columns, r))
                .collect::<Result<Vec<_>>>()
                .map_err(Fail::Decode)?;
            Output::Rows(rows)
        }
        Want::Count => Output::Count(client.execute(&prepared, &params).await?),
    })
}

fn take_rows(output: Output) -> Vec<Row> {
    match output {
        Output::Rows(rows) => rows,
        Output::Count(_) => Vec::new(),
    }
}

#[async_trait]
impl Executor for PgExecutor {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn fetch_all(&self, scope: Scope, statement: &Statement) -> Result<Vec<Row>> {
        let mut out = self
            .run(scope, std::slice::from_ref(statement), Want::Rows)
            .await?;
        Ok(take_rows(out.pop().unwrap_or(Output::Rows(Vec::new()))))
    }

    async fn execute(&self, scope: Scope, statement: &Statement) -> Result<u64> {
        let out = self
            .run(scope, std::slice::from_ref(statement), Want::Count)
            .await?;
        Ok(out.iter().map(count).sum())
    }

    async fn execute_batch(&self, scope: Scope, statements: &[Statement]) -> Result<Vec<u64>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.run(scope, statements, Want::Count).await?;
        Ok(out.iter().map(count).collect())
    }

    async fn upsert_rows(
        &self,
        scope: Scope,
        rows: &UpsertRows,
        then: &[Statement],
    ) -> Result<u64> {
        self.copy_upsert(scope, rows, then).await
    }

    async fn ping(&self) -> Result<Duration> {
        let started = Instant::now();
        self.batch_execute_raw("SELECT 1").await?;
        Ok(started.elapsed())
    }

    /// Resolves the name the way the repositories' queries do: quoted (so with its exact
    /// case, as sea-query quotes it) and, without a schema, through the connection's
    /// `search_path` (`to_regclass`). `information_schema` would also list a table of
    /// that name in any other schema, which a query would never reach.
    async fn table_columns(&self, schema: Option<&str>, table: &str) -> Result<Vec<String>> {
        use sea_query::{Expr, ExprTrait, Func, Order, Query};
        let name = match schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
            None => quote_ident(table),
        };
        let query = Query::select()
            .expr_as(Expr::cust("attname::text"), "column_name")
            .from(("pg_catalog", "pg_attribute"))
            .and_where(Expr::col("attrelid").eq(Func::cust("to_regclass").arg(Expr::val(name))))
            // Literal, not bound: attnum is int2, a bound integer would be int4.
            .and_where(Expr::cust("attnum > 0 AND NOT attisdropped"))
            .order_by("attnum", Order::Asc)
            .to_owned();
        self.fetch_all(Scope::Global, &query.into())
            .await?
            .iter()
            .map(|r| r.get::<String>("column_name"))
            .collect()
    }

    fn notification(&self, payload: &str) -> Option<Statement> {
        use sea_query::{Expr, Func, Query};
        Some(
            Query::select()
                .expr(
                    Func::cust("pg_notify")
                        .arg(Expr::val(self.settings.revocation_channel()))
                        .arg(Expr::val(payload)),
                )
                .into(),
        )
    }
}

/// `name` as a quoted PostgreSQL identifier (`"` doubled).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn count(output: &Output) -> u64 {
    match output {
        Output::Count(n) => *n,
        Output::Rows(rows) => rows.len() as u64,
    }
}
