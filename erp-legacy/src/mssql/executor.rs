//! [`MssqlExecutor`]: the [`Executor`] of the legacy SQL Server database.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use deadpool::managed::{Object, Pool};
use erp_core::{
    Backend, Error, Result,
    sql::{Executor, Row, Scope, Statement},
};
use tiberius::Query;

use super::{
    MssqlConfig, MssqlManager,
    bind::{Param, to_params},
    decode::decode_result_sets,
    error::{keeps_connection, map_pool_error, map_tds_error},
    manager::MssqlClient,
};

/// The pool of an [`MssqlExecutor`].
pub type MssqlPool = Pool<MssqlManager>;

type Conn = Object<MssqlManager>;

const MSSQL: Backend = Backend::Mssql;

/// Health-check query. CAST so the result is a plain `int`: a `sql_variant` (what
/// `SERVERPROPERTY` and friends return) is not something to decode in a probe.
const PING_SQL: &str = "SELECT CAST(1 AS INT) AS ok";
/// Rolls back whatever is open; harmless when the server already rolled back.
const ROLLBACK_SQL: &str = "IF @@TRANCOUNT > 0 ROLLBACK TRAN";
/// How long a timed-out request's cancellation may take before its connection is
/// simply dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Executes statements on Microsoft SQL Server through a deadpool of tiberius clients.
///
/// Cheap to clone: clones share the pool. See the [module documentation](crate::mssql)
/// for timeouts, transactions and the type mapping.
#[derive(Clone)]
pub struct MssqlExecutor {
    pool: MssqlPool,
    settings: Arc<MssqlConfig>,
}

impl fmt::Debug for MssqlExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlExecutor")
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

/// A statement ready to send: T-SQL with `@P1..` and its converted parameters.
struct Job {
    sql: String,
    params: Vec<Param>,
}

impl Job {
    fn render(statement: &Statement) -> Result<Self> {
        // Statements T-SQL cannot express (ON CONFLICT, NULLS FIRST, ...) are refused
        // here, before anything reaches the server.
        let (sql, values) =
            crate::tsql::render(statement).map_err(|e| erp_core::Error::InvalidInput {
                field: "statement".into(),
                message: e.to_string(),
            })?;
        Ok(Self {
            sql,
            params: to_params(values)?,
        })
    }

    /// Raw T-SQL gets the same NULL handling as rendered statements: a NULL value is
    /// written into the text, never bound (see `tsql::inline_nulls`).
    fn raw(sql: &str, values: &[sea_query::Value]) -> Result<Self> {
        let (sql, values) = crate::tsql::inline_nulls(sql, sea_query::Values(values.to_vec()));
        Ok(Self {
            sql,
            params: to_params(values)?,
        })
    }
}

/// Why a call failed, and whether its connection may go back to the pool.
struct Fail {
    error: Error,
    discard: bool,
}

impl From<tiberius::error::Error> for Fail {
    fn from(e: tiberius::error::Error) -> Self {
        Fail {
            discard: !keeps_connection(&e),
            error: map_tds_error(e),
        }
    }
}

impl From<Error> for Fail {
    /// Our own errors (decoding) happen after the response was read in full.
    fn from(error: Error) -> Self {
        Fail {
            error,
            discard: false,
        }
    }
}

impl MssqlExecutor {
    /// Builds the pool and opens one connection to prove the server answers. A server
    /// that is down, silent or refuses the login is reported as
    /// [`Error::Unavailable`] naming `host:port` after at most the connect timeout,
    /// never a hang.
    pub async fn connect(config: MssqlConfig) -> Result<Self> {
        let executor = Self::lazy(config)?;
        let started = Instant::now();
        drop(executor.checkout().await.map_err(|e| match e {
            Error::Unavailable { reason, source, .. } => Error::Unavailable {
                backend: MSSQL,
                reason: format!(
                    "{reason} (gave up after {} ms)",
                    started.elapsed().as_millis()
                ),
                source,
            },
            other => other,
        })?);
        Ok(executor)
    }

    /// Builds the pool without connecting; the first call connects. Fails only on
    /// configuration errors.
    pub fn lazy(config: MssqlConfig) -> Result<Self> {
        let tds = config.tds_config()?;
        let manager = MssqlManager::new(
            tds,
            config.server().to_owned(),
            config.connect_timeout,
            config.max_reconnect_backoff,
        );
        // The manager bounds connecting and recycling itself, with better errors; the
        // pool's own timeouts are a backstop just behind them.
        let backstop = config.connect_timeout + Duration::from_secs(1);
        let pool = Pool::builder(manager)
            .max_size(config.max_size)
            .wait_timeout(Some(config.wait_timeout))
            .create_timeout(Some(backstop))
            .recycle_timeout(Some(backstop))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::config("MSSQL pool", format!("cannot build the pool: {e}")))?;
        Ok(Self {
            pool,
            settings: Arc::new(config),
        })
    }

    /// The configuration this executor was built with.
    pub fn config(&self) -> &MssqlConfig {
        &self.settings
    }

    /// The underlying pool, for code that needs a raw tiberius client. A client used
    /// that way must be read to the end of every response, or taken out of the pool
    /// with [`Object::take`] and dropped.
    pub fn pool(&self) -> &MssqlPool {
        &self.pool
    }

    async fn checkout(&self) -> Result<Conn> {
        self.pool
            .get()
            .await
            .map_err(|e| map_pool_error(e, self.settings.server()))
    }

    /// Runs raw T-SQL as one batch (several statements allowed, no parameters) under
    /// the query timeout. For administration and tests: unlike parameterised calls,
    /// which go through `sp_executesql`, a batch's `#temp` tables outlive the call
    /// (for the life of the connection).
    pub async fn batch_execute_raw(&self, sql: &str) -> Result<()> {
        let mut conn = self.checkout().await?;
        let work = async {
            conn.simple_query(sql).await?.into_results().await?;
            Ok::<_, Fail>(())
        };
        let outcome = tokio::time::timeout(self.settings.query_timeout, work).await;
        self.finish(conn, outcome)
    }

    /// Runs raw parameterised T-SQL (`@P1`, `@P2`.. bound from `values`) and returns
    /// the rows of its first non-empty result set, under the query timeout.
    pub async fn query_raw(&self, sql: &str, values: &[sea_query::Value]) -> Result<Vec<Row>> {
        let job = Job::raw(sql, values)?;
        let out = self.run(vec![job], Want::Rows, false).await?;
        Ok(out.into_iter().next().map(take_rows).unwrap_or_default())
    }

    /// Runs raw parameterised T-SQL and returns the number of rows it affected.
    pub async fn execute_raw(&self, sql: &str, values: &[sea_query::Value]) -> Result<u64> {
        let job = Job::raw(sql, values)?;
        let out = self.run(vec![job], Want::Count, false).await?;
        Ok(out.iter().map(count).sum())
    }

    /// Turns a timed call's outcome into a result. On timeout the connection is
    /// taken out of the pool (it may be mid-response, and a connection out of sync
    /// must never be reused) and a cancellation is sent on it in the background, so
    /// the server stops working on the abandoned request; then it is dropped.
    fn finish<T>(
        &self,
        conn: Conn,
        outcome: Result<Result<T, Fail>, tokio::time::error::Elapsed>,
    ) -> Result<T> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Fail { error, discard })) => {
                if discard {
                    drop(Object::take(conn));
                }
                Err(error)
            }
            Err(_) => {
                let client = Object::take(conn);
                tokio::spawn(cancel_and_drop(client));
                Err(Error::unavailable(
                    MSSQL,
                    format!(
                        "query timed out after {} ms",
                        self.settings.query_timeout.as_millis()
                    ),
                ))
            }
        }
    }

    /// The one path every statement call takes. Values are converted before a
    /// connection is taken; `transaction` wraps the statements in
    /// `BEGIN TRAN`/`COMMIT TRAN`.
    async fn run(&self, jobs: Vec<Job>, want: Want, transaction: bool) -> Result<Vec<Output>> {
        let mut conn = self.checkout().await?;
        let work = async {
            let client: &mut MssqlClient = &mut conn;
            if transaction {
                run_in_transaction(client, jobs, want).await
            } else {
                let mut out = Vec::with_capacity(jobs.len());
                for job in jobs {
                    out.push(run_job(client, job, want).await?);
                }
                Ok(out)
            }
        };
        let outcome = tokio::time::timeout(self.settings.query_timeout, work).await;
        self.finish(conn, outcome)
    }
}

/// Sends an Attention for the abandoned request (best effort, bounded), then drops
/// the connection whatever happened.
async fn cancel_and_drop(mut client: MssqlClient) {
    match tokio::time::timeout(CANCEL_GRACE, client.cancel_query()).await {
        Ok(Ok(())) => tracing::debug!("cancelled a timed-out SQL Server request"),
        Ok(Err(e)) => tracing::debug!(error = %e, "could not cancel a timed-out request"),
        Err(_) => tracing::debug!("cancelling a timed-out request timed out"),
    }
}

/// Runs a parameterless batch and reads every result, so the connection stays in sync.
async fn simple(client: &mut MssqlClient, sql: &str) -> Result<(), Fail> {
    client.simple_query(sql).await?.into_results().await?;
    Ok(())
}

/// `BEGIN TRAN`, the statements, `COMMIT TRAN`. On a server error the transaction is
/// rolled back; if even that fails, the connection is discarded (the server rolls
/// back when it goes away). A broken connection is not rolled back explicitly: it is
/// discarded, and the server rolls back on disconnect.
async fn run_in_transaction(
    client: &mut MssqlClient,
    jobs: Vec<Job>,
    want: Want,
) -> Result<Vec<Output>, Fail> {
    simple(client, "BEGIN TRAN").await?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        match run_job(client, job, want).await {
            Ok(o) => out.push(o),
            Err(fail) => return Err(roll_back(client, fail).await),
        }
    }
    if let Err(fail) = simple(client, "COMMIT TRAN").await {
        return Err(roll_back(client, fail).await);
    }
    Ok(out)
}

async fn roll_back(client: &mut MssqlClient, mut fail: Fail) -> Fail {
    if fail.discard {
        return fail;
    }
    if let Err(rollback) = simple(client, ROLLBACK_SQL).await {
        tracing::warn!(error = %rollback.error, "ROLLBACK failed; discarding the connection");
        fail.discard = true;
    }
    fail
}

async fn run_job(client: &mut MssqlClient, job: Job, want: Want) -> Result<Output, Fail> {
    let mut query = Query::new(job.sql);
    for param in job.params {
        query.bind(param.into_column_data());
    }
    Ok(match want {
        Want::Count => Output::Count(query.execute(client).await?.total()),
        Want::Rows => {
            // `into_results` reads the response to its end, which keeps the
            // connection in sync even if decoding fails afterwards.
            let sets = query.query(client).await?.into_results().await?;
            Output::Rows(decode_result_sets(sets)?)
        }
    })
}

fn take_rows(output: Output) -> Vec<Row> {
    match output {
        Output::Rows(rows) => rows,
        Output::Count(_) => Vec::new(),
    }
}

fn count(output: &Output) -> u64 {
    match output {
        Output::Count(n) => *n,
        Output::Rows(rows) => rows.len() as u64,
    }
}

#[async_trait]
impl Executor for MssqlExecutor {
    fn backend(&self) -> Backend {
        Backend::Mssql
    }

    /// The scope is not enforced here: the legacy database has no row-level security,
    /// so tenant filtering rests on the repositories' own `WHERE` clauses.
    async fn fetch_all(&self, _scope: Scope, statement: &Statement) -> Result<Vec<Row>> {
        let job = Job::render(statement)?;
        let out = self.run(vec![job], Want::Rows, false).await?;
        Ok(out.into_iter().next().map(take_rows).unwrap_or_default())
    }

    async fn execute(&self, _scope: Scope, statement: &Statement) -> Result<u64> {
        let job = Job::render(statement)?;
        let out = self.run(vec![job], Want::Count, false).await?;
        Ok(out.iter().map(count).sum())
    }

    /// Several statements run in one `BEGIN TRAN`/`COMMIT TRAN`; a single statement is
    /// atomic on its own and runs without the two extra round trips.
    async fn execute_batch(&self, _scope: Scope, statements: &[Statement]) -> Result<Vec<u64>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let jobs = statements
            .iter()
            .map(Job::render)
            .collect::<Result<Vec<_>>>()?;
        let transaction = jobs.len() > 1;
        let out = self.run(jobs, Want::Count, transaction).await?;
        Ok(out.iter().map(count).collect())
    }

    /// Resolved with `OBJECT_ID`, as the queries resolve the name (see `catalog.rs`).
    async fn table_columns(&self, schema: Option<&str>, table: &str) -> Result<Vec<String>> {
        super::catalog::table_columns(self, schema, table).await
    }

    async fn ping(&self) -> Result<Duration> {
        let started = Instant::now();
        let mut conn = self.checkout().await?;
        let work = async {
            let sets = conn.simple_query(PING_SQL).await?.into_results().await?;
            let one = sets
                .iter()
                .flatten()
                .any(|row| row.try_get::<i32, _>(0).ok().flatten() == Some(1));
            if one {
                Ok(())
            } else {
                Err(Fail::from(Error::unavailable(
                    MSSQL,
                    "health check returned an unexpected answer",
                )))
            }
        };
        let outcome = tokio::time::timeout(self.settings.query_timeout, work).await;
        self.finish(conn, outcome)?;
        Ok(started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(port: u16) -> MssqlConfig {
        MssqlConfig::from_parts("127.0.0.1", port, "erp", "sa", "Hunter2!xyz", true)
            .unwrap()
            .with_connect_timeout(Duration::from_millis(700))
            .with_wait_timeout(Duration::from_millis(700))
    }

    fn assert_unavailable(err: &Error, server: &str) {
        assert!(err.is_unavailable(), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with("mssql unavailable"), "{text}");
        assert!(text.contains(server), "{text}");
        assert!(!text.contains("Hunter2"), "{text}");
    }

    /// A port nothing listens on: bind, note the port, close.
    async fn closed_port() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn refused_connection_is_unavailable_quickly() {
        let started = Instant::now();
        let err = MssqlExecutor::connect(config(1)).await.unwrap_err();
        assert_unavailable(&err, "127.0.0.1:1");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );

        let port = closed_port().await;
        let err = MssqlExecutor::connect(config(port)).await.unwrap_err();
        assert_unavailable(&err, &format!("127.0.0.1:{port}"));
    }

    #[tokio::test]
    async fn silent_server_is_unavailable_within_the_connect_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepts and holds connections, never answers the prelogin.
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let started = Instant::now();
        let err = MssqlExecutor::connect(config(port)).await.unwrap_err();
        let elapsed = started.elapsed();
        assert_unavailable(&err, &format!("127.0.0.1:{port}"));
        assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(3), "no hang: {elapsed:?}");
        server.abort();
    }

    #[tokio::test]
    async fn garbage_answer_is_unavailable() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let err = MssqlExecutor::connect(config(port)).await.unwrap_err();
        assert_unavailable(&err, &format!("127.0.0.1:{port}"));
        server.abort();
    }

    #[tokio::test]
    async fn repeated_failures_fail_fast_during_the_backoff() {
        let port = closed_port().await;
        let executor =
            MssqlExecutor::lazy(config(port).with_max_reconnect_backoff(Duration::from_secs(30)))
                .unwrap();
        let first = executor.ping().await.unwrap_err();
        assert_unavailable(&first, &format!("127.0.0.1:{port}"));
        let started = Instant::now();
        let second = executor.ping().await.unwrap_err();
        assert_unavailable(&second, &format!("127.0.0.1:{port}"));
        assert!(second.to_string().contains("not retrying"), "{second}");
        assert!(started.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn bad_values_fail_before_touching_the_server() {
        // Port 1 would fail with "unavailable": InvalidInput proves no connection was tried.
        let executor = MssqlExecutor::lazy(config(1)).unwrap();
        let err = executor
            .execute_raw(
                "SELECT @P1",
                &[sea_query::Value::BigUnsigned(Some(u64::MAX))],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn executor_reports_backend_and_hides_the_password() {
        let executor = MssqlExecutor::lazy(config(1)).unwrap();
        assert_eq!(executor.backend(), Backend::Mssql);
        assert!(executor.notification("x").is_none());
        let text = format!("{executor:?}");
        assert!(!text.contains("Hunter2"), "{text}");
        assert!(text.contains("127.0.0.1:1"), "{text}");
    }

    #[test]
    fn config_errors_surface_when_the_pool_is_built() {
        let cfg = MssqlConfig::from_ado_string(
            "Server=db;User Id=u;Password=p4ss;TrustServerCertificateCA=/ca.pem",
        )
        .unwrap()
        .with_trust_cert(true);
        let err = MssqlExecutor::lazy(cfg).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
    }
}
