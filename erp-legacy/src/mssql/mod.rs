//! Microsoft SQL Server (the legacy database) through `tiberius` 0.13.
//!
//! [`MssqlExecutor`] implements [`erp_core::sql::Executor`]: it renders dialect-neutral
//! [`Statement`](erp_core::sql::Statement)s as T-SQL with `crate::tsql::render`
//! (`@P1..` placeholders), binds their values, runs them through a deadpool of
//! tiberius connections under a timeout and hands back owned
//! [`Row`](erp_core::sql::Row)s.
//!
//! # Configuration
//! [`MssqlConfig`] comes from an ADO.NET connection string
//! ([`MssqlConfig::from_ado_string`]) or from `MSSQL_SERVER`, `MSSQL_PORT` (1433),
//! `MSSQL_DATABASE`, `MSSQL_USER`, `MSSQL_PASSWORD`, `MSSQL_TRUST_CERT` (false)
//! ([`MssqlConfig::from_env_lookup`]). Errors name the variable; neither errors nor
//! `Debug` show the password.
//!
//! # TLS
//! rustls (no OpenSSL). Encryption is required unless a connection string says
//! `Encrypt=false`; the certificate is validated against the system trust store
//! unless `TrustServerCertificate=true` / [`MssqlConfig::with_trust_cert`], which
//! still encrypts but no longer authenticates the server.
//!
//! # Pool and timeouts
//! | setting | default | bounds |
//! |---|---|---|
//! | `max_size` | 10 | open connections |
//! | `wait_timeout` | 5 s | waiting for a free connection |
//! | `connect_timeout` | 10 s | TCP + prelogin + TLS + login (one redirect included), and the checkout health check |
//! | `query_timeout` | 30 s | one call, from the request to the last row |
//! | `max_reconnect_backoff` | 5 s | pause between connection attempts after failures |
//!
//! Every failure to reach the server (refused, silent, TLS, login failed, database
//! missing, pool exhausted, timeout) is [`Error::Unavailable`](erp_core::Error)
//! naming `host:port`. Connections are opened on demand; after a failed attempt new
//! attempts pause (100 ms doubling up to `max_reconnect_backoff`) and calls that need
//! a new connection meanwhile fail at once instead of each waiting for the connect
//! timeout (see [`MssqlManager`]). On checkout a pooled connection runs
//! `IF @@TRANCOUNT > 0 ROLLBACK TRAN; SELECT CAST(1 AS INT)`.
//!
//! A call that exceeds the query timeout is reported as "query timed out after ..";
//! its connection is taken out of the pool (`Object::take`), sent a cancellation in
//! the background (best effort, so the server stops the abandoned work) and dropped.
//!
//! # Transactions and scope
//! tiberius's transaction handling is not used: [`Executor::execute_batch`](
//! erp_core::sql::Executor::execute_batch) with several statements sends
//! `BEGIN TRAN`, the statements, `COMMIT TRAN`; on an error it sends
//! `IF @@TRANCOUNT > 0 ROLLBACK TRAN`, and if that fails too the connection is
//! discarded (the server rolls back on disconnect). [`Scope::Tenant`](
//! erp_core::sql::Scope) is accepted and ignored: the legacy database has no
//! row-level security, tenant filtering is the repositories' `WHERE` clauses.
//!
//! # Parameters
//! | `sea_query::Value` | sent as |
//! |---|---|
//! | `Bool` | `bit` |
//! | `TinyInt` (i8) | `smallint` (widened: SQL Server's `tinyint` is unsigned) |
//! | `SmallInt`, `Int`, `BigInt` | `smallint`, `int`, `bigint` |
//! | `TinyUnsigned` (u8) | `tinyint` |
//! | `SmallUnsigned`, `Unsigned` | `bigint` (widened) |
//! | `BigUnsigned` | `bigint`; above `i64::MAX` → `InvalidInput` |
//! | `Float`, `Double` | `real`, `float` |
//! | `String`, `Char`, `Enum`, `Json` | `nvarchar` (tiberius always sends Unicode; CAST the parameter when comparing with an indexed `varchar` key) |
//! | `Bytes` | `varbinary` |
//! | `Uuid` | `uniqueidentifier` |
//! | `ChronoDate`, `ChronoTime` | `date`, `time(7)` |
//! | `ChronoDateTime` | `datetime2(7)` |
//! | `ChronoDateTimeUtc`/`Local`/`WithTimeZone` | `datetimeoffset(7)` (UTC is +00:00) |
//! | `Decimal` | `numeric(p, s)`, exact |
//!
//! | NULL of any type | the keyword `NULL` in the statement text, never a parameter |
//!
//! tiberius would send a `None` string, binary, decimal or date/time parameter as TDS
//! NULLTYPE (0x1F): SQL Server accepts it, Babelfish for PostgreSQL (and so Aurora)
//! refuses the call with error 8009. So every NULL, in rendered statements and in the raw
//! calls alike, is written as `NULL` and the other placeholders renumbered
//! ([`crate::tsql::inline_nulls`]); a NULL never reaches the binder.
//!
//! # Result types
//! | SQL Server | [`Cell`](erp_core::sql::Cell) |
//! |---|---|
//! | `char`, `varchar`, `nchar`, `nvarchar`, `text`, `ntext` | `Text` |
//! | `tinyint`, `smallint`, `int`, `bigint` | `Int` |
//! | `decimal`, `numeric` | `Text` with the exact decimal (`"1234.5600"`, full DECIMAL(38) range) |
//! | `money`, `smallmoney` | `Text` with four decimals; see below |
//! | `float`, `real` | `Float` |
//! | `datetime`, `datetime2`, `smalldatetime` | `Timestamp`, read as UTC |
//! | `datetimeoffset` | `Timestamp`, converted to UTC |
//! | `date` | `Text` `"YYYY-MM-DD"` |
//! | `time` | `Text` `"HH:MM:SS[.fffffffff]"` |
//! | `bit` | `Bool` |
//! | `uniqueidentifier` | `Uuid` |
//! | `binary`, `varbinary`, `image` | `Bytes` |
//! | NULL of any of these | `Null` |
//! | `sql_variant`, `xml`, CLR types | [`Error::Decode`](erp_core::Error) naming the column |
//!
//! There is no decimal cell: exact numbers are decimal text, which
//! `rust_decimal::Decimal` parses without loss.
//!
//! # tiberius traps handled here
//! - Dropping a request mid-response leaves the connection out of sync: timeouts and
//!   driver (non-server) errors discard the connection; server errors (constraint
//!   violations and the like) leave it in sync and it goes back to the pool.
//! - MONEY arrives as `f64`. The executor turns it back into four-decimal text, which
//!   is exact up to about 900 billion; **queries should `CAST(x AS DECIMAL(19,4))`**
//!   to get the exact value at any size.
//! - DECIMAL(38, s) beyond 28 digits would overflow `rust_decimal`: the text is built
//!   from tiberius's `Numeric` directly.
//! - `sql_variant` (what `SERVERPROPERTY()` returns) is refused by column type; the
//!   health checks select `CAST(1 AS INT)`.
//! - No `ToSql` for `i8`/`u16`/`u32`/`u64`: widened as in the table above.
//! - Azure SQL redirects (`Error::Routing`) are followed once while connecting.
//! - Legacy collations tiberius cannot decode are a decode error suggesting a
//!   `COLLATE` in the query.
//! - `#temp` tables created inside a parameterised call (`sp_executesql`) vanish when
//!   it returns; create them with [`MssqlExecutor::batch_execute_raw`].
//! - Counts of affected rows come from the server's DONE tokens: a session with
//!   `SET NOCOUNT ON` reports 0.
//! - Named instances need an explicit port (no SQL Browser lookups).
//!
//! # Catalogue
//! [`Executor::table_columns`](erp_core::sql::Executor::table_columns) resolves the
//! table with `OBJECT_ID`, as a query naming it would (without a schema: the login's
//! default schema, then `dbo`), and lists its `sys.columns`; a table of that name in
//! another schema does not count.
//!
//! Server error numbers map to [`erp_core::Error`] kinds: 2627/2601 → `Conflict`;
//! 547 → `NotFound { entity: "referenced row" }` for a missing foreign-key target,
//! `Conflict` for deleting a still-referenced row, `InvalidInput` for a CHECK (read from
//! SQL Server's wording or Babelfish's PostgreSQL wording; a 547 in neither is
//! `InvalidInput` "violates a constraint", never a guess);
//! 515, 245, 8114, 8152, 2628 and other value errors → `InvalidInput` (with the column
//! when the server names it, never the value); 18456, 4060, deadlocks (1205), lock
//! timeouts (1222), Azure throttling and severity ≥ 20 → `Unavailable`; the rest →
//! `Database`.

mod ado;
mod bind;
mod catalog;
mod config;
mod decode;
mod error;
mod executor;
mod manager;

pub use config::{
    ENV_DATABASE, ENV_PASSWORD, ENV_PORT, ENV_SERVER, ENV_TRUST_CERT, ENV_USER, MssqlConfig,
};
pub use executor::{MssqlExecutor, MssqlPool};
pub use manager::{MssqlClient, MssqlManager};
