use sea_query::{
    DeleteStatement, InsertStatement, QueryBuilder, SelectStatement, UpdateStatement, Values,
};

/// A dialect-neutral statement: what repositories hand to an [`Executor`](super::Executor).
#[derive(Debug, Clone)]
pub enum Statement {
    /// `SELECT`.
    Select(SelectStatement),
    /// `INSERT`, possibly with `RETURNING` / `ON CONFLICT`.
    Insert(InsertStatement),
    /// `UPDATE`.
    Update(UpdateStatement),
    /// `DELETE`.
    Delete(DeleteStatement),
}

impl Statement {
    /// Renders the statement with `builder`'s dialect: SQL text with placeholders, and
    /// the values to bind to them in order.
    pub fn build(&self, builder: &impl QueryBuilder) -> (String, Values) {
        match self {
            Statement::Select(s) => s.build_any(builder),
            Statement::Insert(s) => s.build_any(builder),
            Statement::Update(s) => s.build_any(builder),
            Statement::Delete(s) => s.build_any(builder),
        }
    }
}

macro_rules! from_stmt {
    ($ty:ty, $variant:ident) => {
        impl From<$ty> for Statement {
            fn from(s: $ty) -> Self {
                Statement::$variant(s)
            }
        }
        impl From<&mut $ty> for Statement {
            fn from(s: &mut $ty) -> Self {
                Statement::$variant(s.clone())
            }
        }
    };
}

from_stmt!(SelectStatement, Select);
from_stmt!(InsertStatement, Insert);
from_stmt!(UpdateStatement, Update);
from_stmt!(DeleteStatement, Delete);

#[cfg(test)]
mod tests {
    use sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query, SqliteQueryBuilder};

    use super::*;

    #[test]
    fn one_statement_renders_in_each_dialect() {
        let stmt: Statement = Query::select()
            .column("id")
            .from("users")
            .and_where(Expr::col("username_key").eq("a'b"))
            .into();
        let (pg, pg_values) = stmt.build(&PostgresQueryBuilder);
        let (lite, _) = stmt.build(&SqliteQueryBuilder);
        assert_eq!(pg, r#"SELECT "id" FROM "users" WHERE "username_key" = $1"#);
        assert_eq!(lite, r#"SELECT "id" FROM "users" WHERE "username_key" = ?"#);
        assert_eq!(pg_values.0, vec![sea_query::Value::from("a'b")]);
    }
}
