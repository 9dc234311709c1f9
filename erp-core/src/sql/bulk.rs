//! Many rows into one table, each replacing the row with the same key.

use sea_query::{Alias, Expr, OnConflict, Query, Value};

use super::Statement;
use crate::{Error, Result};

/// Bound values per statement of the generic path: under SQLite's limit (32 766) and
/// PostgreSQL's (65 535), whatever the width of the rows.
const MAX_VALUES_PER_STATEMENT: usize = 30_000;

/// Rows to write into one table, each inserted or, when a row with its key exists,
/// written over it: what a copy job hands to
/// [`Executor::upsert_rows`](super::Executor::upsert_rows).
///
/// The column list is fixed when the batch is made and [`UpsertRows::push`] refuses a
/// row of another width, so columns and values cannot drift apart. A key must appear
/// at most once per batch (PostgreSQL refuses to update one row twice in a statement).
///
/// ```
/// use erp_core::sql::UpsertRows;
///
/// let mut rows = UpsertRows::new("legacy_clients", "client_code", ["client_code", "client_name"])?;
/// rows.push(["C001".into(), "Acme".into()])?;
/// assert!(rows.push(["C002".into()]).is_err(), "one value short");
/// assert_eq!(rows.len(), 1);
/// # Ok::<(), erp_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertRows {
    table: String,
    key: String,
    columns: Vec<String>,
    /// Row-major: row `i` is `values[i * width..(i + 1) * width]`.
    values: Vec<Value>,
}

impl UpsertRows {
    /// An empty batch for `table`, keyed by `key`, which must be one of `columns`.
    pub fn new<C: Into<String>>(
        table: impl Into<String>,
        key: impl Into<String>,
        columns: impl IntoIterator<Item = C>,
    ) -> Result<Self> {
        let table = table.into();
        let key = key.into();
        let columns: Vec<String> = columns.into_iter().map(Into::into).collect();
        if !columns.contains(&key) {
            return Err(Error::invalid(
                "columns",
                format!("the key {key} of {table} is not among the columns"),
            ));
        }
        if let Some(dup) = columns
            .iter()
            .enumerate()
            .find(|(i, c)| columns[..*i].contains(c))
        {
            return Err(Error::invalid(
                "columns",
                format!("{} is listed twice for {table}", dup.1),
            ));
        }
        Ok(Self {
            table,
            key,
            columns,
            values: Vec::new(),
        })
    }

    /// Reserves room for `rows` more rows.
    pub fn reserve(&mut self, rows: usize) {
        self.values.reserve(rows.saturating_mul(self.columns.len()));
    }

    /// Appends one row, its values in column order. A row of another width is refused
    /// and leaves the batch as it was.
    pub fn push(&mut self, row: impl IntoIterator<Item = Value>) -> Result<()> {
        let before = self.values.len();
        self.values.extend(row);
        let width = self.values.len() - before;
        if width != self.columns.len() {
            self.values.truncate(before);
            return Err(Error::invalid(
                "row",
                format!(
                    "{width} values for the {} columns of {}",
                    self.columns.len(),
                    self.table
                ),
            ));
        }
        Ok(())
    }

    /// The table written.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The key column.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The columns, in the order of each row's values.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.values.len() / self.columns.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rows, each a slice of values in column order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, Value> {
        self.values.chunks_exact(self.columns.len())
    }

    /// The generic path: multi-row `INSERT .. ON CONFLICT (key) DO UPDATE` statements,
    /// as many as the bound-value limit needs.
    pub(crate) fn insert_statements(&self) -> Result<Vec<Statement>> {
        let per_statement = (MAX_VALUES_PER_STATEMENT / self.columns.len()).max(1);
        let others: Vec<Alias> = self
            .columns
            .iter()
            .filter(|c| **c != self.key)
            .map(Alias::new)
            .collect();
        let mut conflict = OnConflict::column(Alias::new(&self.key));
        if others.is_empty() {
            conflict.do_nothing();
        } else {
            conflict.update_columns(others);
        }
        let mut statements = Vec::new();
        let rows: Vec<&[Value]> = self.rows().collect();
        for chunk in rows.chunks(per_statement) {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(&self.table))
                .columns(self.columns.iter().map(Alias::new))
                .on_conflict(conflict.clone());
            for row in chunk {
                insert
                    .values(row.iter().cloned().map(Expr::val))
                    .map_err(|e| Error::invalid("row", e.to_string()))?;
            }
            statements.push(insert.into());
        }
        Ok(statements)
    }
}

#[cfg(test)]
mod tests {
    use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    use super::*;

    fn batch(rows: usize) -> UpsertRows {
        let mut b = UpsertRows::new("t", "k", ["k", "a", "b"]).unwrap();
        for i in 0..rows {
            b.push([(i as i64).into(), "x".into(), Value::String(None)])
                .unwrap();
        }
        b
    }

    #[test]
    fn the_key_must_be_a_column_and_columns_unique() {
        assert!(UpsertRows::new("t", "k", ["a", "b"]).is_err());
        assert!(UpsertRows::new("t", "k", ["k", "a", "a"]).is_err());
        assert!(UpsertRows::new("t", "k", ["k"]).is_ok());
    }

    #[test]
    fn rows_of_another_width_are_refused_without_a_trace() {
        let mut b = batch(2);
        assert!(b.push(["1".into()]).is_err());
        assert!(
            b.push(["1".into(), "2".into(), "3".into(), "4".into()])
                .is_err()
        );
        assert_eq!(b.len(), 2);
        assert!(b.rows().all(|r| r.len() == 3));
    }

    #[test]
    fn the_generic_path_upserts_and_splits_at_the_value_limit() {
        let statements = batch(10_001).insert_statements().unwrap();
        assert_eq!(statements.len(), 2, "10 000 rows of 3 values per statement");
        let (pg, values) = statements[1].build(&PostgresQueryBuilder);
        assert_eq!(values.0.len(), 3);
        assert!(
            pg.ends_with(
                r#"ON CONFLICT ("k") DO UPDATE SET "a" = "excluded"."a", "b" = "excluded"."b""#
            ),
            "{pg}"
        );
        let (lite, _) = statements[0].build(&SqliteQueryBuilder);
        assert!(
            lite.starts_with(r#"INSERT INTO "t" ("k", "a", "b") VALUES"#),
            "{lite}"
        );
    }

    #[test]
    fn a_key_only_table_ignores_rows_it_has() {
        let mut b = UpsertRows::new("t", "k", ["k"]).unwrap();
        b.push(["a".into()]).unwrap();
        let (pg, _) = b.insert_statements().unwrap()[0].build(&PostgresQueryBuilder);
        assert!(pg.ends_with("ON CONFLICT (\"k\") DO NOTHING"), "{pg}");
    }
}
