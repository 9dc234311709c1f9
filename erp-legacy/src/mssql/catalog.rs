//! Catalogue lookups of [`MssqlExecutor`]: which columns a table has, found the way a
//! query naming the table finds it.
//!
//! `INFORMATION_SCHEMA.COLUMNS` filtered by table name alone (the trait's default) also
//! lists same-named tables in other schemas, which an unqualified query never reaches;
//! and filtering it by `SCHEMA_NAME()` would miss SQL Server's fallback from the
//! user's default schema to `dbo`. `OBJECT_ID` resolves a one- or two-part name exactly
//! as the query would, in the current database, on SQL Server and on Babelfish alike.

use erp_core::Result;

use super::MssqlExecutor;

/// The columns of the object `@P1` names, in table order. `sys.columns` also has the
/// columns of views, which a mapping may name as well.
const TABLE_COLUMNS_SQL: &str = "SELECT CAST(c.name AS NVARCHAR(128)) AS column_name \
     FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@P1) ORDER BY c.column_id";

/// `[name]`, with `]` doubled: the name as one identifier, whatever it contains.
fn quote(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// The name `OBJECT_ID` resolves: `[schema].[table]`, or `[table]` for the connection's
/// default schema.
fn object_name(schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(schema) => format!("{}.{}", quote(schema), quote(table)),
        None => quote(table),
    }
}

/// See [`Executor::table_columns`](erp_core::sql::Executor::table_columns).
pub(super) async fn table_columns(
    exec: &MssqlExecutor,
    schema: Option<&str>,
    table: &str,
) -> Result<Vec<String>> {
    let name = object_name(schema, table);
    exec.query_raw(TABLE_COLUMNS_SQL, &[name.into()])
        .await?
        .iter()
        .map(|r| r.get::<String>("column_name"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bracket_quoted() {
        assert_eq!(object_name(None, "clients"), "[clients]");
        assert_eq!(object_name(Some("dbo"), "clients"), "[dbo].[clients]");
        assert_eq!(object_name(Some("a.b"), "x]y"), "[a.b].[x]]y]");
    }
}
