//! Upsert for SQL Server and Babelfish: UPDATE, then INSERT if nothing matched.

use std::collections::HashSet;
use std::fmt::Write;

use sea_query::{QueryBuilder, Value, Values};

use super::TsqlQueryBuilder;
use super::error::TsqlError;
use super::literal::{is_null, validate_identifier, write_identifier};
use super::nulls::inline_nulls;

/// Renders an upsert of one row into `table` as one T-SQL batch:
///
/// ```text
/// UPDATE [t] SET [a] = @P1, [b] = @P2 WHERE [k] = @P3; IF @@ROWCOUNT = 0 INSERT INTO [t] ([k], [a], [b]) VALUES (@P3, @P1, @P2)
/// ```
///
/// `key` identifies the row (the WHERE clause), `set` holds the other columns. The values
/// list is `set`'s values then `key`'s, numbered `@P1..@Pn` in that order, and the INSERT
/// refers to the same parameters again (`sp_executesql` parameters can be used any number
/// of times), so each value is sent once. With an empty `set` the batch only inserts a
/// missing row: `IF NOT EXISTS (SELECT 1 FROM [t] WHERE [k] = @P1) INSERT INTO [t] ([k])
/// VALUES (@P1)`.
///
/// Why not MERGE: Babelfish does not support it, and on SQL Server it needs the same
/// locking care. Why not `INSERT ... ON CONFLICT`: T-SQL has none.
///
/// Run it inside a transaction. Under the default READ COMMITTED isolation, two
/// sessions inserting the same new key at once can both see no row, and the second
/// INSERT then fails with a unique violation (error 2627 or 2601): retry the batch on that
/// error, or run it under SERIALIZABLE isolation (on SQL Server the UPDATE's key-range
/// lock then makes the other session wait).
///
/// `table` and the column names are single identifiers (quoted `[...]`, so any text is
/// safe; a schema-qualified name is not split at the dot).
///
/// # Errors
///
/// [`TsqlError::InvalidIdentifier`] for an empty identifier, one over 128 UTF-16 units or
/// with NUL; [`TsqlError::InvalidUpsert`] when `key` is empty (the UPDATE would touch
/// every row), a key value is NULL (`= NULL` never matches, so every call would insert),
/// or a column appears twice (names compared case-insensitively, as SQL Server's default
/// collations do).
pub fn upsert_batch(
    table: &str,
    key: &[(&str, Value)],
    set: &[(&str, Value)],
) -> Result<(String, Values), TsqlError> {
    validate_identifier(table)?;
    if key.is_empty() {
        return Err(TsqlError::InvalidUpsert(
            "no key columns: the UPDATE would match every row",
        ));
    }
    let mut seen = HashSet::new();
    for (column, _) in key.iter().chain(set) {
        validate_identifier(column)?;
        if !seen.insert(column.to_lowercase()) {
            return Err(TsqlError::InvalidUpsert("a column is given twice"));
        }
    }
    if key.iter().any(|(_, value)| is_null(value)) {
        return Err(TsqlError::InvalidUpsert(
            "a key value is NULL: `[k] = NULL` never matches",
        ));
    }

    // Parameter numbers: set values first (@P1..), then key values.
    let key_params: Vec<usize> = (set.len() + 1..=set.len() + key.len()).collect();
    let set_params: Vec<usize> = (1..=set.len()).collect();

    let mut sql = String::with_capacity(128);
    let where_clause = |sql: &mut String| {
        for (i, ((column, _), p)) in key.iter().zip(&key_params).enumerate() {
            sql.push_str(if i == 0 { " WHERE " } else { " AND " });
            write_column_eq_param(sql, column, *p);
        }
    };
    if set.is_empty() {
        sql.push_str("IF NOT EXISTS (SELECT 1 FROM ");
        write_ident(&mut sql, table);
        where_clause(&mut sql);
        sql.push_str(") ");
    } else {
        sql.push_str("UPDATE ");
        write_ident(&mut sql, table);
        for (i, ((column, _), p)) in set.iter().zip(&set_params).enumerate() {
            sql.push_str(if i == 0 { " SET " } else { ", " });
            write_column_eq_param(&mut sql, column, *p);
        }
        where_clause(&mut sql);
        sql.push_str("; IF @@ROWCOUNT = 0 ");
    }
    sql.push_str("INSERT INTO ");
    write_ident(&mut sql, table);
    sql.push_str(" (");
    for (i, (column, _)) in key.iter().chain(set).enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        write_ident(&mut sql, column);
    }
    sql.push_str(") VALUES (");
    for (i, p) in key_params.iter().chain(&set_params).enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        write_param(&mut sql, *p);
    }
    sql.push(')');

    let values = set.iter().chain(key).map(|(_, v)| v.clone()).collect();
    Ok(inline_nulls(&sql, Values(values)))
}

fn write_ident(sql: &mut String, name: &str) {
    // Writing into a String cannot fail.
    let _ = write_identifier(sql, name);
}

fn write_param(sql: &mut String, n: usize) {
    let (prefix, _) = TsqlQueryBuilder.placeholder();
    let _ = write!(sql, "{prefix}{n}");
}

fn write_column_eq_param(sql: &mut String, column: &str, n: usize) {
    write_ident(sql, column);
    sql.push_str(" = ");
    write_param(sql, n);
}
