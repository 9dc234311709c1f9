//! T-SQL backend for sea-query: renders [`Statement`]s for Microsoft SQL Server 2016+ and
//! Babelfish for PostgreSQL.
//!
//! # Use
//!
//! - [`TsqlQueryBuilder`] is a sea-query `QueryBuilder`: `statement.build(&TsqlQueryBuilder)`
//!   gives SQL with `@P1..@Pn` placeholders and the values to bind, in order;
//!   `to_string(TsqlQueryBuilder)` inlines the values (logs, tests).
//! - [`render`] does the same for an [`erp_core::sql::Statement`] but first refuses
//!   statements that use something T-SQL cannot express ([`TsqlError::Unsupported`]).
//!   Executors should call it rather than `build`.
//! - [`upsert_batch`] replaces `INSERT ... ON CONFLICT`: `UPDATE ...; IF @@ROWCOUNT = 0
//!   INSERT ...` as one batch.
//! - [`inline_nulls`] writes NULL values into the text as `NULL` and renumbers the other
//!   placeholders: [`render`] and [`upsert_batch`] apply it, so their output never binds a
//!   NULL (Babelfish and Aurora refuse the untyped NULL parameters tiberius sends, error
//!   8009; SQL Server takes both forms).
//!
//! # Dialect
//!
//! | sea-query / PostgreSQL | T-SQL |
//! |---|---|
//! | `"ident"` | `[ident]`, `]` doubled |
//! | `$1` | `@P1` |
//! | `'text'` (inlined) | `N'text'`, `'` doubled, no backslash escapes |
//! | `TRUE`/`FALSE` (inlined value) | `1`/`0`; as a condition: `(1 = 1)`/`(1 = 0)` |
//! | `x'0A'` | `0x0A` |
//! | date/time literals | ISO 8601 `'2024-01-31T12:00:00.000000'` (offset `+02:00` when zoned) |
//! | `LIMIT m OFFSET n` | `ORDER BY .. OFFSET @Pn ROWS FETCH NEXT @Pm ROWS ONLY` |
//! | `RETURNING a` | `OUTPUT INSERTED.[a]` / `OUTPUT DELETED.[a]` |
//! | `x ILIKE p` | `LOWER(x) LIKE LOWER(p)` |
//! | `a \|\| b` | `a + b` |
//! | `IFNULL`, `CHAR_LENGTH`, `RANDOM` | `COALESCE`, `LEN`, `RAND` |
//! | `CURRENT_DATE`, `CURRENT_TIME` | `CAST(SYSDATETIME() AS DATE / TIME)` |
//! | `WITH RECURSIVE` | `WITH` |
//!
//! # Design
//!
//! The builder is sea-query's default `QueryBuilder` with hooks overridden. Three
//! obstacles shape it:
//!
//! - **Private statement data.** sea-query keeps the fields of its statements
//!   `pub(crate)`: an outside backend gets data only through the hooks it is called with.
//!   T-SQL needs some of it out of order: whether a SELECT has an ORDER BY, and its
//!   limit/offset, when writing OFFSET/FETCH. The `probe` module runs sea-query's default
//!   code with a recording builder to read those facts (the known workaround of rendering
//!   `prepare_select_limit_offset` into a capturing writer, generalised); the T-SQL builder
//!   then writes `OFFSET .. ROWS FETCH NEXT .. ROWS ONLY`, adding `ORDER BY (SELECT NULL)`
//!   when there is no ORDER BY, since T-SQL only allows OFFSET/FETCH inside ORDER BY. A
//!   limit alone is `OFFSET 0 ROWS FETCH NEXT @Pn ROWS ONLY`, not `TOP`: it is written by
//!   the same hook, composes with an offset, and `TOP` would have to go before the select
//!   list, which no hook reaches. DELETE is written by the builder itself from probed
//!   parts, because the shared `prepare_output` hook cannot tell DELETE (`DELETED.`) from
//!   INSERT/UPDATE (`INSERTED.`).
//! - **`OUTPUT` placement.** `prepare_output` runs after the INSERT column list and the
//!   UPDATE SET list, where T-SQL wants `OUTPUT`; the trailing `RETURNING` is suppressed.
//!   An UPDATE's FROM list is moved after OUTPUT (T-SQL order).
//! - **Hooks cannot fail.** For constructs T-SQL lacks (ON CONFLICT, FOR UPDATE, DISTINCT
//!   ON, NULLS FIRST, LATERAL, UPDATE/DELETE with ORDER BY or LIMIT, ...) the builder
//!   writes the PostgreSQL form, which SQL Server rejects, so the meaning of a statement is
//!   never changed silently; it also records the construct (see `report`), and [`render`]
//!   turns that into an error before the statement is sent.
//!
//! No MERGE anywhere: Babelfish does not implement it, and an UPDATE-then-INSERT batch in a
//! transaction ([`upsert_batch`]) runs on both targets. OFFSET/FETCH, `ORDER BY (SELECT
//! NULL)`, `OUTPUT INSERTED`, `OUTPUT DELETED`, `SYSDATETIME()` and `@@ROWCOUNT` work on SQL
//! Server 2016+ and on Babelfish 4.3 (the `mssql_builder_forms_run_on_the_server` test runs
//! them there in CI). `GREATEST`/`LEAST` are kept as sea-query writes them: Babelfish has
//! them, SQL Server only from 2022.
//!
//! # Limitations
//!
//! - `OUTPUT` without `INTO` fails on tables with enabled triggers (error 334), common in
//!   legacy databases: there, read keys with `SCOPE_IDENTITY()` or re-select.
//! - ORDER BY inside a subquery or CTE without limit/offset is invalid T-SQL (error 1033);
//!   it is passed through.
//! - `Expr::cust_with_values` takes `?` placeholders (not `$1`).
//! - `VALUES` lists as table references and CTE bodies need column aliases in T-SQL, which
//!   sea-query cannot express; row-value comparisons (`(a, b) IN ..`) do not exist in
//!   T-SQL. Both are passed through, and the server rejects them.
//! - Inlined date-times carry six fractional digits, fine for DATETIME2 and
//!   DATETIMEOFFSET; a legacy DATETIME column compared with such an inlined literal fails
//!   to convert (bound parameters are not affected).
//! - `ROUND(x)` needs a second argument in T-SQL: use `round_with_precision`.
//!
//! [`Statement`]: erp_core::sql::Statement

mod builder;
mod error;
mod lex;
mod literal;
mod nulls;
mod probe;
mod report;
mod upsert;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

use erp_core::sql::Statement;
use sea_query::Values;

pub use builder::TsqlQueryBuilder;
pub use error::TsqlError;
pub use literal::quote_identifier;
pub use nulls::inline_nulls;
pub use upsert::upsert_batch;

/// Renders `stmt` as T-SQL: the SQL with `@P1..@Pn` placeholders and the values to bind.
///
/// The same text as `stmt.build(&TsqlQueryBuilder)`, but checked: statements using a
/// construct T-SQL cannot express are refused instead of being sent to fail on the server.
/// NULL values are written as the keyword `NULL` ([`inline_nulls`]), so none is bound as a
/// parameter: Babelfish (Aurora) refuses the untyped NULL parameters tiberius sends.
///
/// # Errors
///
/// [`TsqlError::Unsupported`] naming the first such construct: `INSERT ... ON CONFLICT`
/// (use [`upsert_batch`]), `SELECT ... FOR UPDATE`, `DISTINCT ON`, `NULLS FIRST/LAST`,
/// LATERAL joins, `JOIN ... USING`, UPDATE/DELETE with ORDER BY or LIMIT, `LIMIT 0`,
/// aggregate `FILTER`, PostgreSQL/SQLite-specific operators and functions, `REPLACE`,
/// NaN/infinite floats, `WITH ... SEARCH/CYCLE/MATERIALIZED`, and custom expressions whose
/// `?` count differs from their value count.
pub fn render(stmt: &Statement) -> Result<(String, Values), TsqlError> {
    let ((sql, values), found) = report::collect(|| stmt.build(&TsqlQueryBuilder));
    match found.into_iter().next() {
        Some(error) => Err(error),
        None => Ok(inline_nulls(&sql, values)),
    }
}
