//! [`TsqlQueryBuilder`]: sea-query's `QueryBuilder` for Microsoft SQL Server.

use std::fmt::{self, Write};

use sea_query::extension::postgres::PgBinOper;
use sea_query::{
    BinOper, ColumnName, ColumnRef, ConditionHolder, DeleteStatement, DynIden, EscapeBuilder,
    ExplainStatement, Expr, Frame, Func, JoinExpr, JoinOn, JoinType, Keyword, LockClause,
    OnConflict, Oper, OperLeftAssocDecider, OrderExpr, PostgresQueryBuilder, PrecedenceDecider,
    QueryBuilder, Quote, QuotedBuilder, ReturningClause, SelectDistinct, SelectInto,
    SelectStatement, SqlWriter, SqliteQueryBuilder, SubQueryStatement, TableRef, TableRefBuilder,
    UpdateStatement, Value, WithClause,
};

use super::lex;
use super::literal::{self, BracketEscaper};
use super::probe::{self, Direction};
use super::report::unsupported;

/// Renders sea-query statements as T-SQL for SQL Server 2016+ and Babelfish for
/// PostgreSQL: `[identifiers]`, `@P1..@Pn` placeholders, `OFFSET .. FETCH`,
/// `OUTPUT INSERTED/DELETED` in place of `RETURNING`, `N'...'` strings.
///
/// Use it like sea-query's own builders: `stmt.build(TsqlQueryBuilder)`,
/// `stmt.to_string(TsqlQueryBuilder)` (values inlined, for logs and tests) or
/// `Statement::build(&TsqlQueryBuilder)`. Statements using something T-SQL lacks (see the
/// [module docs](super)) are written so that SQL Server rejects them; check them up front
/// with [`render`](super::render).
#[derive(Debug, Clone, Copy, Default)]
pub struct TsqlQueryBuilder;

impl QuotedBuilder for TsqlQueryBuilder {
    fn quote(&self) -> Quote {
        Quote::from((b'[', b']'))
    }

    /// Always escapes: sea-query's default writes names it stores borrowed (static names
    /// it judged plain) without escaping, trusting its own check; escaping every name
    /// keeps the rule in one place.
    fn prepare_iden(&self, iden: &DynIden, sql: &mut impl SqlWriter) {
        sql.write_char('[').unwrap();
        write!(BracketEscaper(sql), "{iden}").unwrap();
        sql.write_char(']').unwrap();
    }
}

/// T-SQL strings only escape `'`, by doubling it; a backslash is an ordinary character.
impl EscapeBuilder for TsqlQueryBuilder {
    fn needs_escape(&self, s: &str) -> bool {
        s.contains('\'')
    }

    fn write_escaped(&self, buffer: &mut impl Write, string: &str) {
        let mut rest = string;
        while let Some(i) = rest.find('\'') {
            buffer.write_str(&rest[..=i]).unwrap();
            buffer.write_char('\'').unwrap();
            rest = &rest[i + 1..];
        }
        buffer.write_str(rest).unwrap();
    }

    fn unescape_string(&self, string: &str) -> String {
        string.replace("''", "'")
    }
}

impl TableRefBuilder for TsqlQueryBuilder {}

/// Precedence and associativity as in standard SQL: T-SQL's operators that sea-query
/// knows rank like SQLite's, whose answers these are.
impl OperLeftAssocDecider for TsqlQueryBuilder {
    fn well_known_left_associative(&self, op: &BinOper) -> bool {
        SqliteQueryBuilder.well_known_left_associative(op)
    }
}

impl PrecedenceDecider for TsqlQueryBuilder {
    fn inner_expr_well_known_greater_precedence(&self, inner: &Expr, outer_oper: &Oper) -> bool {
        SqliteQueryBuilder.inner_expr_well_known_greater_precedence(inner, outer_oper)
    }
}

impl QueryBuilder for TsqlQueryBuilder {
    /// `@P1`, `@P2`, ...: the names tiberius (and any `sp_executesql` caller) binds.
    fn placeholder(&self) -> (&'static str, bool) {
        ("@P", true)
    }

    fn prepare_query_statement(&self, query: &SubQueryStatement, sql: &mut impl SqlWriter) {
        match query {
            SubQueryStatement::SelectStatement(s) => self.prepare_select_statement(s, sql),
            SubQueryStatement::InsertStatement(s) => self.prepare_insert_statement(s, sql),
            SubQueryStatement::UpdateStatement(s) => self.prepare_update_statement(s, sql),
            SubQueryStatement::DeleteStatement(s) => self.prepare_delete_statement(s, sql),
            SubQueryStatement::WithStatement(s) => self.prepare_with_query(s, sql),
        }
    }

    fn prepare_value(&self, value: Value, sql: &mut impl SqlWriter) {
        sql.push_param(value, self);
    }

    // ----- expressions -----------------------------------------------------------------

    fn prepare_expr(&self, expr: &Expr, sql: &mut impl SqlWriter) {
        match expr {
            Expr::Binary(
                left,
                BinOper::PgOperator(op @ (PgBinOper::ILike | PgBinOper::NotILike)),
                right,
            ) => self.write_ilike(left, *op, right, sql),
            Expr::CustomWithExpr(template, values) => {
                self.write_custom_with_values(template, values, sql)
            }
            Expr::FunctionCall(func) => {
                if probe::has_filter(func) {
                    unsupported(
                        "aggregate FILTER (WHERE ...)",
                        "move the condition into the argument: SUM(CASE WHEN .. THEN x END)",
                    );
                }
                self.prepare_expr_common(expr, sql);
            }
            _ => self.prepare_expr_common(expr, sql),
        }
    }

    /// Boolean constants only come from conditions (an empty `Condition::all()` is TRUE),
    /// and T-SQL has no boolean literals in predicates: `WHERE 1` is a syntax error.
    fn prepare_constant(&self, value: &Value, sql: &mut impl SqlWriter) {
        match value {
            Value::Bool(Some(true)) => sql.write_str("(1 = 1)").unwrap(),
            Value::Bool(Some(false)) => sql.write_str("(1 = 0)").unwrap(),
            _ => self.write_value(sql, value).unwrap(),
        }
    }

    fn prepare_bin_oper(&self, bin_oper: &BinOper, sql: &mut impl SqlWriter) {
        match bin_oper {
            // `||` is string concatenation in PostgreSQL; `+` is T-SQL's.
            BinOper::PgOperator(PgBinOper::Concatenate) => sql.write_str("+").unwrap(),
            BinOper::PgOperator(_) => {
                // ILIKE never gets here: `prepare_expr` rewrites it.
                unsupported(
                    "PostgreSQL-specific operator",
                    "use a T-SQL function or a custom expression",
                );
                PostgresQueryBuilder.prepare_bin_oper(bin_oper, sql);
            }
            BinOper::SqliteOperator(_) => {
                unsupported(
                    "SQLite-specific operator",
                    "use LIKE or a custom expression",
                );
                SqliteQueryBuilder.prepare_bin_oper(bin_oper, sql);
            }
            _ => self.prepare_bin_oper_common(bin_oper, sql),
        }
    }

    fn prepare_function_name(&self, function: &Func, sql: &mut impl SqlWriter) {
        match function {
            Func::PgFunction(_) => {
                unsupported(
                    "PostgreSQL-specific function",
                    "use the T-SQL equivalent through Func::cust",
                );
                PostgresQueryBuilder.prepare_function_name(function, sql);
            }
            Func::Md5 => {
                unsupported("MD5()", "use CONVERT(CHAR(32), HASHBYTES('MD5', x), 2)");
                self.prepare_function_name_common(function, sql);
            }
            Func::BitAnd | Func::BitOr => {
                unsupported(
                    "BIT_AND() / BIT_OR() aggregates",
                    "T-SQL has no bitwise aggregates; use MIN/MAX on BIT columns",
                );
                self.prepare_function_name_common(function, sql);
            }
            _ => self.prepare_function_name_common(function, sql),
        }
    }

    fn prepare_keyword(&self, keyword: &Keyword, sql: &mut impl SqlWriter) {
        sql.write_str(match keyword {
            Keyword::Null => "NULL",
            // T-SQL has CURRENT_TIMESTAMP but (before SQL Server 2025) no CURRENT_DATE or
            // CURRENT_TIME.
            Keyword::CurrentDate => "CAST(SYSDATETIME() AS DATE)",
            Keyword::CurrentTime => "CAST(SYSDATETIME() AS TIME)",
            Keyword::CurrentTimestamp => "CURRENT_TIMESTAMP",
            Keyword::Default => "DEFAULT",
            Keyword::Custom(iden) => {
                write!(sql, "{iden}").unwrap();
                return;
            }
            _ => {
                PostgresQueryBuilder.prepare_keyword(keyword, sql);
                return;
            }
        })
        .unwrap();
    }

    /// T-SQL's `ISNULL` takes the type of its first argument and may truncate the second;
    /// `COALESCE` behaves like `IFNULL` elsewhere.
    fn if_null_function(&self) -> &str {
        "COALESCE"
    }

    /// `LEN` ignores trailing spaces, as `CHAR_LENGTH` does on CHAR columns elsewhere.
    fn char_length_function(&self) -> &str {
        "LEN"
    }

    /// `RAND()` is evaluated once per query in T-SQL, not per row: to shuffle rows, order
    /// by `NEWID()` (a custom expression).
    fn random_function(&self) -> &str {
        "RAND"
    }

    /// Window frames take integer literals in T-SQL, not parameters (and sea-query's
    /// default omits the space before PRECEDING).
    fn prepare_frame(&self, frame: &Frame, sql: &mut impl SqlWriter) {
        match *frame {
            Frame::UnboundedPreceding => sql.write_str("UNBOUNDED PRECEDING"),
            Frame::Preceding(n) => write!(sql, "{n} PRECEDING"),
            Frame::CurrentRow => sql.write_str("CURRENT ROW"),
            Frame::Following(n) => write!(sql, "{n} FOLLOWING"),
            Frame::UnboundedFollowing => sql.write_str("UNBOUNDED FOLLOWING"),
        }
        .unwrap();
    }

    // ----- values ----------------------------------------------------------------------

    fn write_value(&self, buf: &mut impl Write, value: &Value) -> fmt::Result {
        match value {
            Value::Bool(Some(b)) => buf.write_str(if *b { "1" } else { "0" }),
            Value::Float(Some(f)) => literal::write_float32(buf, *f),
            Value::Double(Some(f)) => literal::write_float(buf, *f),
            // sea-query's default goes through a byte and panics on non-ASCII characters.
            Value::Char(Some(c)) => literal::write_nstring(buf, c.encode_utf8(&mut [0; 4])),
            // ISO 8601 with `T`: read the same whatever the session's language/DATEFORMAT.
            Value::ChronoDate(Some(d)) => write!(buf, "'{}'", d.format("%Y-%m-%d")),
            Value::ChronoTime(Some(t)) => write!(buf, "'{}'", t.format("%H:%M:%S%.6f")),
            Value::ChronoDateTime(Some(t)) => {
                write!(buf, "'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6f"))
            }
            Value::ChronoDateTimeUtc(Some(t)) => {
                write!(buf, "'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6f%:z"))
            }
            Value::ChronoDateTimeLocal(Some(t)) => {
                write!(buf, "'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6f%:z"))
            }
            Value::ChronoDateTimeWithTimeZone(Some(t)) => {
                write!(buf, "'{}'", t.format("%Y-%m-%dT%H:%M:%S%.6f%:z"))
            }
            // NULLs, integers, decimals (plain text), UUIDs ('hyphenated'), and strings,
            // enums, JSON and bytes through the two hooks below.
            _ => self.write_value_common(buf, value),
        }
    }

    fn write_string_quoted(&self, string: &str, buffer: &mut impl Write) {
        literal::write_nstring(buffer, string).unwrap();
    }

    fn write_bytes(&self, bytes: &[u8], buffer: &mut impl Write) {
        literal::write_binary(buffer, bytes).unwrap();
    }

    // ----- SELECT ----------------------------------------------------------------------

    fn prepare_select_distinct(&self, select_distinct: &SelectDistinct, sql: &mut impl SqlWriter) {
        match select_distinct {
            SelectDistinct::All => sql.write_str("ALL").unwrap(),
            SelectDistinct::Distinct => sql.write_str("DISTINCT").unwrap(),
            SelectDistinct::DistinctOn(_) => {
                unsupported(
                    "SELECT DISTINCT ON",
                    "use ROW_NUMBER() OVER (PARTITION BY ...) in a subquery",
                );
                PostgresQueryBuilder.prepare_select_distinct(select_distinct, sql);
            }
            _ => {}
        }
    }

    /// `SELECT ... INTO [new_table] FROM ...` is T-SQL's syntax already.
    fn prepare_select_into(&self, into_table: &SelectInto, sql: &mut impl SqlWriter) {
        if into_table.target_table_modifier.is_some() {
            unsupported(
                "SELECT INTO TEMPORARY/UNLOGGED",
                "select into a #temp table name instead",
            );
            PostgresQueryBuilder.prepare_select_into(into_table, sql);
            return;
        }
        sql.write_str(" INTO ").unwrap();
        self.prepare_iden(&into_table.target_table, sql);
    }

    /// T-SQL pages with `OFFSET n ROWS FETCH NEXT m ROWS ONLY`, which is part of the ORDER
    /// BY clause: a SELECT without ORDER BY gets `ORDER BY (SELECT NULL)` ("any order", as
    /// LIMIT without ORDER BY means elsewhere), or `ORDER BY 1` after a UNION, where ORDER
    /// BY items must come from the select list. A limit without offset is
    /// `OFFSET 0 ROWS FETCH NEXT m ROWS ONLY`; `TOP (m)` is not used because it sits
    /// before the select list, which this hook cannot reach, and does not take an offset.
    ///
    /// sea-query keeps the values private; see the `probe` module for how they are read.
    fn prepare_select_limit_offset(&self, select: &SelectStatement, sql: &mut impl SqlWriter) {
        let probe::LimitOffset { limit, offset } = probe::limit_offset(select);
        if limit.is_none() && offset.is_none() {
            return;
        }
        let shape = probe::select_shape(select);
        if !shape.has_order {
            let order = if shape.has_union {
                " ORDER BY 1"
            } else {
                " ORDER BY (SELECT NULL)"
            };
            sql.write_str(order).unwrap();
        }
        sql.write_str(" OFFSET ").unwrap();
        match offset {
            Some(offset) => self.prepare_value(widen(offset), sql),
            None => sql.write_str("0").unwrap(),
        }
        sql.write_str(" ROWS").unwrap();
        if let Some(limit) = limit {
            if matches!(limit, Value::BigUnsigned(Some(0))) {
                unsupported(
                    "LIMIT 0",
                    "FETCH NEXT needs at least one row (error 10744); skip the query",
                );
            }
            sql.write_str(" FETCH NEXT ").unwrap();
            self.prepare_value(widen(limit), sql);
            sql.write_str(" ROWS ONLY").unwrap();
        }
    }

    fn prepare_select_lock(&self, lock: &LockClause, sql: &mut impl SqlWriter) {
        unsupported(
            "SELECT ... FOR UPDATE/SHARE",
            "use table hints, e.g. WITH (UPDLOCK, ROWLOCK), through a custom table reference",
        );
        PostgresQueryBuilder.prepare_select_lock(lock, sql);
    }

    fn prepare_table_sample(&self, select: &SelectStatement, sql: &mut impl SqlWriter) {
        let mut sample = String::new();
        PostgresQueryBuilder.prepare_table_sample(select, &mut sample);
        if !sample.is_empty() {
            unsupported("PostgreSQL TABLESAMPLE", "use T-SQL TABLESAMPLE in raw SQL");
            sql.write_str(&sample).unwrap();
        }
    }

    fn prepare_join_type(&self, join_type: &JoinType, sql: &mut impl SqlWriter) {
        if matches!(join_type, JoinType::StraightJoin) {
            unsupported(
                "STRAIGHT_JOIN",
                "use INNER JOIN (with OPTION (FORCE ORDER))",
            );
        }
        self.prepare_join_type_common(join_type, sql);
    }

    fn prepare_join_table_ref(&self, join_expr: &JoinExpr, sql: &mut impl SqlWriter) {
        if join_expr.lateral {
            unsupported("LATERAL join", "use CROSS APPLY / OUTER APPLY");
            sql.write_str("LATERAL ").unwrap();
        }
        self.prepare_table_ref(&join_expr.table, sql);
    }

    fn prepare_join_on(&self, join_on: &JoinOn, sql: &mut impl SqlWriter) {
        match join_on {
            JoinOn::Condition(c) => self.prepare_condition(c, "ON", sql),
            JoinOn::Columns(columns) => {
                unsupported("JOIN ... USING", "join ON the columns");
                sql.write_str(" USING (").unwrap();
                for (i, col) in columns.iter().enumerate() {
                    if i > 0 {
                        sql.write_str(", ").unwrap();
                    }
                    self.prepare_expr(col, sql);
                }
                sql.write_str(")").unwrap();
            }
            _ => PostgresQueryBuilder.prepare_join_on(join_on, sql),
        }
    }

    /// T-SQL has no `NULLS FIRST/LAST` (NULLs sort first ascending, last descending).
    /// sea-query's default drops the option silently; here it is reported and written
    /// out, so the server rejects it rather than sorting differently.
    fn prepare_order(&self, order_expr: &OrderExpr, sql: &mut impl SqlWriter) {
        match probe::direction(order_expr) {
            Direction::Field(values) => self.prepare_field_order(order_expr, &values, sql),
            Direction::Keyword(keyword) => sql.write_str(&keyword).unwrap(),
        }
        // Only PostgreSQL's and SQLite's builders can see the option, and only in what
        // they write.
        let mut pg = String::new();
        PostgresQueryBuilder.prepare_order_expr(order_expr, &mut pg);
        if let Some(nulls) = [" NULLS FIRST", " NULLS LAST"]
            .into_iter()
            .find(|n| pg.ends_with(n))
        {
            unsupported(
                "ORDER BY ... NULLS FIRST/LAST",
                "order by CASE WHEN x IS NULL THEN 0 ELSE 1 END first",
            );
            sql.write_str(nulls).unwrap();
        }
    }

    // ----- WITH ------------------------------------------------------------------------

    /// T-SQL CTEs are recursive without the `RECURSIVE` keyword (which it rejects).
    fn prepare_with_clause_start(&self, _: &WithClause, sql: &mut impl SqlWriter) {
        sql.write_str("WITH ").unwrap();
    }

    fn prepare_with_clause_recursive_options(
        &self,
        with_clause: &WithClause,
        sql: &mut impl SqlWriter,
    ) {
        if probe::writes_anything(|p, s| p.prepare_with_clause_recursive_options(with_clause, s)) {
            unsupported(
                "WITH RECURSIVE ... SEARCH/CYCLE",
                "compute depth or detect cycles in the recursive member",
            );
            PostgresQueryBuilder.prepare_with_clause_recursive_options(with_clause, sql);
        }
    }

    fn prepare_with_query_clause_materialization(
        &self,
        cte: &sea_query::CommonTableExpression,
        sql: &mut impl SqlWriter,
    ) {
        if probe::writes_anything(|p, s| p.prepare_with_query_clause_materialization(cte, s)) {
            unsupported(
                "CTE [NOT] MATERIALIZED",
                "materialize into a #temp table instead",
            );
            PostgresQueryBuilder.prepare_with_query_clause_materialization(cte, sql);
        }
    }

    // ----- INSERT / UPDATE / DELETE ------------------------------------------------------

    fn prepare_insert(&self, replace: bool, sql: &mut impl SqlWriter) {
        if replace {
            unsupported("REPLACE INTO", "use upsert_batch (UPDATE, then INSERT)");
            sql.write_str("REPLACE").unwrap();
        } else {
            sql.write_str("INSERT").unwrap();
        }
    }

    fn insert_default_values(&self, num_rows: u32, sql: &mut impl SqlWriter) {
        if num_rows == 1 {
            sql.write_str("DEFAULT VALUES").unwrap();
            return;
        }
        unsupported(
            "INSERT of several rows of DEFAULT VALUES",
            "run one INSERT ... DEFAULT VALUES per row",
        );
        sql.write_str("VALUES ").unwrap();
        for i in 0..num_rows {
            sql.write_str(if i == 0 { "(DEFAULT)" } else { ", (DEFAULT)" })
                .unwrap();
        }
    }

    /// There is no ON CONFLICT in T-SQL, and MERGE is missing from Babelfish (and has a
    /// history of bugs on SQL Server): use [`upsert_batch`](super::upsert_batch).
    fn prepare_on_conflict(&self, on_conflict: &Option<OnConflict>, sql: &mut impl SqlWriter) {
        if on_conflict.is_some() {
            unsupported(
                "INSERT ... ON CONFLICT",
                "use tsql::upsert_batch (UPDATE, then INSERT if no row matched) in a transaction",
            );
            PostgresQueryBuilder.prepare_on_conflict(on_conflict, sql);
        }
    }

    /// Called right after the INSERT column list and after the UPDATE SET list: exactly
    /// where T-SQL wants `OUTPUT`. (DELETE writes its own, see below.)
    fn prepare_output(&self, returning: &Option<ReturningClause>, sql: &mut impl SqlWriter) {
        self.write_output("INSERTED", returning.as_ref(), sql);
    }

    /// `RETURNING` became `OUTPUT` above.
    fn prepare_returning(&self, _: &Option<ReturningClause>, _: &mut impl SqlWriter) {}

    /// The FROM list of an UPDATE is written with the WHERE clause instead, because T-SQL
    /// wants `OUTPUT` before FROM and sea-query calls `prepare_output` after this hook.
    fn prepare_update_from(&self, _: &[TableRef], _: &mut impl SqlWriter) {}

    fn prepare_update_condition(
        &self,
        from: &[TableRef],
        condition: &ConditionHolder,
        sql: &mut impl SqlWriter,
    ) {
        for (i, table_ref) in from.iter().enumerate() {
            sql.write_str(if i == 0 { " FROM " } else { ", " }).unwrap();
            self.prepare_table_ref(table_ref, sql);
        }
        self.prepare_condition(condition, "WHERE", sql);
    }

    fn prepare_update_order_by(&self, update: &UpdateStatement, sql: &mut impl SqlWriter) {
        if probe::writes_anything(|p, s| p.prepare_update_order_by(update, s)) {
            unsupported(
                "UPDATE ... ORDER BY",
                "update through a CTE: WITH c AS (SELECT TOP (n) ... ORDER BY ...) UPDATE c",
            );
            PostgresQueryBuilder.prepare_update_order_by(update, sql);
        }
    }

    fn prepare_update_limit(&self, update: &UpdateStatement, sql: &mut impl SqlWriter) {
        if probe::writes_anything(|p, s| p.prepare_update_limit(update, s)) {
            unsupported(
                "UPDATE ... LIMIT",
                "use UPDATE TOP (n) in raw SQL, or a CTE with ORDER BY",
            );
            PostgresQueryBuilder.prepare_update_limit(update, sql);
        }
    }

    /// Written here rather than by sea-query's default, whose `prepare_output` hook cannot
    /// tell a DELETE (`OUTPUT DELETED.*`) from an INSERT or UPDATE (`OUTPUT INSERTED.*`).
    fn prepare_delete_statement(&self, delete: &DeleteStatement, sql: &mut impl SqlWriter) {
        let parts = probe::delete_parts(delete);
        if let Some(with) = &parts.with {
            self.prepare_with_clause(with, sql);
        }
        sql.write_str("DELETE ").unwrap();
        if let Some(table) = &parts.table {
            sql.write_str("FROM ").unwrap();
            self.prepare_table_ref(table, sql);
        }
        self.write_output("DELETED", parts.returning.as_ref(), sql);
        self.prepare_condition(&parts.condition, "WHERE", sql);
        if parts.has_order {
            unsupported(
                "DELETE ... ORDER BY",
                "delete through a CTE: WITH c AS (SELECT TOP (n) ... ORDER BY ...) DELETE c",
            );
            PostgresQueryBuilder.prepare_delete_order_by(delete, sql);
        }
        if parts.has_limit {
            unsupported(
                "DELETE ... LIMIT",
                "use DELETE TOP (n) in raw SQL, or a CTE with ORDER BY",
            );
            PostgresQueryBuilder.prepare_delete_limit(delete, sql);
        }
    }

    fn prepare_explain_statement(&self, explain: &ExplainStatement, sql: &mut impl SqlWriter) {
        unsupported("EXPLAIN", "use SET SHOWPLAN_XML ON in a batch of its own");
        PostgresQueryBuilder.prepare_explain_statement(explain, sql);
    }
}

impl TsqlQueryBuilder {
    /// Writes ` OUTPUT INSERTED.[a], INSERTED.[b]` (or `DELETED.`) for a RETURNING
    /// clause. Column qualifiers are dropped: OUTPUT columns belong to the pseudo-table.
    /// Other expressions are written as they are, so they must name `INSERTED.`/`DELETED.`
    /// themselves (e.g. `Expr::cust("INSERTED.[a] + 1")`).
    fn write_output(
        &self,
        pseudo_table: &str,
        returning: Option<&ReturningClause>,
        sql: &mut impl SqlWriter,
    ) {
        match returning {
            None => {}
            Some(ReturningClause::All) => write!(sql, " OUTPUT {pseudo_table}.*").unwrap(),
            Some(ReturningClause::Columns(columns)) => {
                for (i, column) in columns.iter().enumerate() {
                    sql.write_str(if i == 0 { " OUTPUT " } else { ", " })
                        .unwrap();
                    self.write_output_column(pseudo_table, column, sql);
                }
            }
            Some(ReturningClause::Exprs(exprs)) => {
                for (i, expr) in exprs.iter().enumerate() {
                    sql.write_str(if i == 0 { " OUTPUT " } else { ", " })
                        .unwrap();
                    match expr {
                        Expr::Column(column) => self.write_output_column(pseudo_table, column, sql),
                        other => self.prepare_expr(other, sql),
                    }
                }
            }
        }
    }

    fn write_output_column(
        &self,
        pseudo_table: &str,
        column: &ColumnRef,
        sql: &mut impl SqlWriter,
    ) {
        match column {
            ColumnRef::Column(ColumnName(_, name)) => {
                write!(sql, "{pseudo_table}.").unwrap();
                self.prepare_iden(name, sql);
            }
            ColumnRef::Asterisk(_) => write!(sql, "{pseudo_table}.*").unwrap(),
            other => self.prepare_column_ref(other, sql),
        }
    }

    /// `x ILIKE p` becomes `LOWER(x) LIKE LOWER(p)`: case-insensitive whatever the
    /// column's collation (a CI collation would make plain LIKE enough, but that is a
    /// property of the database, not of the statement). Not sargable: for indexed
    /// searches, rely on a CI collation and use LIKE.
    fn write_ilike(&self, left: &Expr, op: PgBinOper, right: &Expr, sql: &mut impl SqlWriter) {
        sql.write_str("LOWER(").unwrap();
        self.prepare_expr(left, sql);
        sql.write_str(if op == PgBinOper::NotILike {
            ") NOT LIKE LOWER("
        } else {
            ") LIKE LOWER("
        })
        .unwrap();
        match right {
            // `ILIKE p ESCAPE e` arrives as ILIKE (p ESCAPE e).
            Expr::Binary(pattern, BinOper::Escape, escape) => {
                self.prepare_expr(pattern, sql);
                sql.write_str(") ESCAPE ").unwrap();
                self.prepare_expr(escape, sql);
            }
            pattern => {
                self.prepare_expr(pattern, sql);
                sql.write_str(")").unwrap();
            }
        }
    }

    /// `Expr::cust_with_values` for T-SQL: each `?` takes the next value (`??` is a
    /// literal `?`), except inside string literals, `[identifiers]`, `"identifiers"` and
    /// comments. sea-query's default only understands single-character placeholders, so
    /// with `@P` it would drop every value.
    fn write_custom_with_values(&self, template: &str, values: &[Expr], sql: &mut impl SqlWriter) {
        let mut used = 0;
        for segment in lex::segments(template) {
            let code = match segment {
                lex::Segment::Opaque(text) => {
                    sql.write_str(text).unwrap();
                    continue;
                }
                lex::Segment::Code(code) => code,
            };
            let mut chars = code.chars().peekable();
            while let Some(c) = chars.next() {
                if c != '?' {
                    sql.write_char(c).unwrap();
                } else if chars.next_if_eq(&'?').is_some() {
                    sql.write_char('?').unwrap();
                } else {
                    match values.get(used) {
                        Some(value) => self.prepare_expr(value, sql),
                        None => sql.write_char('?').unwrap(),
                    }
                    used += 1;
                }
            }
        }
        if used != values.len() {
            unsupported(
                "custom expression whose `?` count differs from its value count",
                "write one `?` per value (`??` for a literal `?`)",
            );
        }
    }
}

/// LIMIT/OFFSET arrive as `u64`, which tiberius cannot bind; OFFSET/FETCH take BIGINT.
fn widen(value: Value) -> Value {
    match value {
        Value::BigUnsigned(Some(n)) => Value::BigInt(Some(i64::try_from(n).unwrap_or(i64::MAX))),
        other => other,
    }
}
