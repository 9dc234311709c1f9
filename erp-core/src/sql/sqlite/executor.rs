use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use rusqlite::{
    Connection, TransactionBehavior, params_from_iter, types::Value as Lite, types::ValueRef,
};
use sea_query::SqliteQueryBuilder;

use super::{
    SqliteConfig,
    bind::to_sqlite,
    error::{map_pool_error, map_sqlite_error},
    manager::SqliteManager,
};
use crate::{
    Backend, Error, Result,
    sql::{Cell, Executor, Row, Scope, Statement},
};

type Pool = deadpool::managed::Pool<SqliteManager>;

/// Executes statements on an embedded SQLite database.
///
/// Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SqliteExecutor {
    pool: Pool,
    config: Arc<SqliteConfig>,
}

impl fmt::Debug for SqliteExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteExecutor")
            .field("config", &self.config)
            .field("status", &self.pool.status())
            .finish()
    }
}

/// A statement rendered for SQLite, ready to move onto a blocking thread.
type Rendered = (String, Vec<Lite>);

impl SqliteExecutor {
    /// Opens (creating if needed) the database and proves it can be used.
    pub async fn connect(config: SqliteConfig) -> Result<Self> {
        if let Some(parent) = config.path.as_deref().and_then(std::path::Path::parent)
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| Error::Unavailable {
                backend: Backend::Sqlite,
                reason: format!("cannot create folder {}: {e}", parent.display()),
                source: Some(Box::new(e)),
            })?;
        }
        let pool = Pool::builder(SqliteManager {
            config: config.clone(),
        })
        .max_size(config.max_connections)
        .wait_timeout(Some(config.wait_timeout))
        .create_timeout(Some(config.wait_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| Error::config("DATABASE_URL", format!("cannot build SQLite pool: {e}")))?;
        let executor = Self {
            pool,
            config: Arc::new(config),
        };
        executor.with_conn(|_| Ok(())).await?;
        Ok(executor)
    }

    /// The configuration this executor was built with.
    pub fn config(&self) -> &SqliteConfig {
        &self.config
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub(super) async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let mut conn = self.pool.get().await.map_err(map_pool_error)?;
        tokio::task::spawn_blocking(move || f(&mut conn))
            .await
            .map_err(|e| Error::Database {
                backend: Backend::Sqlite,
                source: Box::new(e),
            })?
    }

    /// Runs raw SQL text (several statements, no parameters). For administration and tests.
    pub async fn batch_execute_raw(&self, sql: impl Into<String>) -> Result<()> {
        let sql = sql.into();
        self.with_conn(move |conn| conn.execute_batch(&sql).map_err(map_sqlite_error))
            .await
    }

    /// Runs a raw parameterless query and returns its rows.
    pub async fn query_raw(&self, sql: impl Into<String>) -> Result<Vec<Row>> {
        let sql = sql.into();
        self.with_conn(move |conn| query(conn, &sql, Vec::new()))
            .await
    }
}

fn render(statement: &Statement) -> Result<Rendered> {
    let (sql, values) = statement.build(&SqliteQueryBuilder);
    let values = values
        .into_iter()
        .map(to_sqlite)
        .collect::<Result<Vec<_>>>()?;
    Ok((sql, values))
}

fn query(conn: &Connection, sql: &str, values: Vec<Lite>) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_sqlite_error)?;
    let columns: Arc<[String]> = stmt.column_names().map(str::to_owned).collect();
    let mut rows = stmt
        .query(params_from_iter(values))
        .map_err(map_sqlite_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map_sqlite_error)? {
        let mut cells = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            let cell = match row.get_ref(i).map_err(map_sqlite_error)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(v) => Cell::Float(v),
                ValueRef::Text(bytes) => Cell::Text(
                    std::str::from_utf8(bytes)
                        .map_err(|_| Error::Decode {
                            column: columns[i].clone(),
                            message: "text is not UTF-8".into(),
                        })?
                        .to_owned(),
                ),
                ValueRef::Blob(bytes) => Cell::Bytes(bytes.to_vec()),
            };
            cells.push(cell);
        }
        out.push(Row::new(Arc::clone(&columns), cells));
    }
    Ok(out)
}

fn execute(conn: &Connection, sql: &str, values: Vec<Lite>) -> Result<u64> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_sqlite_error)?;
    let n = stmt
        .execute(params_from_iter(values))
        .map_err(map_sqlite_error)?;
    Ok(n as u64)
}

#[async_trait]
impl Executor for SqliteExecutor {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    // SQLite has no row-level security: the scope is enforced by the repositories'
    // tenant filters alone.
    async fn fetch_all(&self, _scope: Scope, statement: &Statement) -> Result<Vec<Row>> {
        let (sql, values) = render(statement)?;
        self.with_conn(move |conn| query(conn, &sql, values)).await
    }

    async fn execute(&self, _scope: Scope, statement: &Statement) -> Result<u64> {
        let (sql, values) = render(statement)?;
        self.with_conn(move |conn| execute(conn, &sql, values))
            .await
    }

    async fn execute_batch(&self, _scope: Scope, statements: &[Statement]) -> Result<Vec<u64>> {
        let rendered = statements.iter().map(render).collect::<Result<Vec<_>>>()?;
        self.with_conn(move |conn| {
            // IMMEDIATE takes the write lock up front: two deferred transactions that
            // both read then write would deadlock and fail without waiting.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_sqlite_error)?;
            let mut counts = Vec::with_capacity(rendered.len());
            for (sql, values) in rendered {
                counts.push(execute(&tx, &sql, values)?);
            }
            tx.commit().map_err(map_sqlite_error)?;
            Ok(counts)
        })
        .await
    }

    async fn table_columns(&self, schema: Option<&str>, table: &str) -> Result<Vec<String>> {
        // SQLite has no INFORMATION_SCHEMA; its catalogue is the table_info pragma. With a
        // NULL schema it looks the table up as an unqualified query does (temp, main,
        // then attached databases); with one, only there.
        let table = table.to_owned();
        let schema = schema.map(str::to_owned);
        self.with_conn(move |conn| {
            // The pragma fails on a schema that is not attached; to the caller that is a
            // table that does not exist, as on the other backends.
            if let Some(schema) = &schema {
                let attached: bool = conn
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM pragma_database_list WHERE name = ?1)",
                        [schema],
                        |r| r.get(0),
                    )
                    .map_err(map_sqlite_error)?;
                if !attached {
                    return Ok(Vec::new());
                }
            }
            let mut stmt = conn
                .prepare_cached("SELECT name FROM pragma_table_info(?1, ?2)")
                .map_err(map_sqlite_error)?;
            let names = stmt
                .query_map(rusqlite::params![table, schema], |r| r.get::<_, String>(0))
                .map_err(map_sqlite_error)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(map_sqlite_error)?;
            Ok(names)
        })
        .await
    }

    async fn ping(&self) -> Result<Duration> {
        let started = Instant::now();
        self.with_conn(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(map_sqlite_error)
        })
        .await?;
        Ok(started.elapsed())
    }
}
