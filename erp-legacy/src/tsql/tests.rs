//! Golden tests: the exact T-SQL for the statements the ERP code builds.

use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use erp_core::sql::Statement;
use sea_query::extension::postgres::PgExpr;
use sea_query::{
    Asterisk, CommonTableExpression, Condition, Expr, ExprTrait, Func, LikeExpr, NullOrdering,
    OnConflict, Order, PostgresQueryBuilder, Query, QueryBuilder, SelectStatement, UnionType,
    Value, Values, WithClause,
};

use super::*;

/// `build` with the T-SQL builder, values as a plain Vec.
fn tsql(stmt: impl Into<Statement>) -> (String, Vec<Value>) {
    let (sql, Values(values)) = stmt.into().build(&TsqlQueryBuilder);
    (sql, values)
}

fn unsupported_feature(stmt: impl Into<Statement>) -> &'static str {
    match render(&stmt.into()) {
        Err(TsqlError::Unsupported { feature, .. }) => feature,
        other => panic!("expected an unsupported feature, got {other:?}"),
    }
}

fn users_page() -> SelectStatement {
    Query::select()
        .columns(["id", "username", "email"])
        .from("users")
        .and_where(Expr::col("tenant_id").eq(7))
        .and_where(Expr::col("username").like("jo%"))
        .order_by("username", Order::Asc)
        .to_owned()
}

// ----- SELECT ---------------------------------------------------------------------------

#[test]
fn select_with_limit_and_offset() {
    let stmt = users_page().limit(10).offset(20).to_owned();
    let (sql, values) = tsql(stmt.clone());
    assert_eq!(
        sql,
        "SELECT [id], [username], [email] FROM [users] WHERE [tenant_id] = @P1 AND [username] LIKE @P2 \
         ORDER BY [username] ASC OFFSET @P3 ROWS FETCH NEXT @P4 ROWS ONLY"
    );
    // OFFSET comes first in the text, so it is @P3; u64 widened to BIGINT for binding.
    assert_eq!(
        values,
        [
            7.into(),
            "jo%".into(),
            Value::BigInt(Some(20)),
            Value::BigInt(Some(10))
        ]
    );
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT [id], [username], [email] FROM [users] WHERE [tenant_id] = 7 AND [username] LIKE N'jo%' \
         ORDER BY [username] ASC OFFSET 20 ROWS FETCH NEXT 10 ROWS ONLY"
    );
}

#[test]
fn select_with_limit_only() {
    let (sql, values) = tsql(users_page().limit(10).to_owned());
    assert_eq!(
        sql,
        "SELECT [id], [username], [email] FROM [users] WHERE [tenant_id] = @P1 AND [username] LIKE @P2 \
         ORDER BY [username] ASC OFFSET 0 ROWS FETCH NEXT @P3 ROWS ONLY"
    );
    assert_eq!(values[2], Value::BigInt(Some(10)));
}

#[test]
fn select_with_offset_only() {
    let (sql, values) = tsql(users_page().offset(30).to_owned());
    assert_eq!(
        sql,
        "SELECT [id], [username], [email] FROM [users] WHERE [tenant_id] = @P1 AND [username] LIKE @P2 \
         ORDER BY [username] ASC OFFSET @P3 ROWS"
    );
    assert_eq!(values.len(), 3);
}

#[test]
fn select_limit_without_order_by_orders_by_nothing() {
    let stmt = Query::select()
        .column("id")
        .from("users")
        .and_where(Expr::col("email").eq("a@b.c"))
        .limit(1)
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "SELECT [id] FROM [users] WHERE [email] = @P1 ORDER BY (SELECT NULL) OFFSET 0 ROWS FETCH NEXT @P2 ROWS ONLY"
    );
    let stmt = Query::select()
        .column("id")
        .from("users")
        .offset(5)
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "SELECT [id] FROM [users] ORDER BY (SELECT NULL) OFFSET @P1 ROWS"
    );
}

#[test]
fn select_without_limit_is_left_alone() {
    assert_eq!(
        tsql(users_page()).0,
        "SELECT [id], [username], [email] FROM [users] WHERE [tenant_id] = @P1 AND [username] LIKE @P2 \
         ORDER BY [username] ASC"
    );
}

#[test]
fn count_star() {
    let stmt = Query::select()
        .expr_as(Expr::col(Asterisk).count(), "n")
        .from("sessions")
        .and_where(Expr::col("user_id").eq(5))
        .and_where(Expr::col("revoked_at").is_null())
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "SELECT COUNT(*) AS [n] FROM [sessions] WHERE [user_id] = @P1 AND [revoked_at] IS NULL"
    );
}

#[test]
fn select_with_join() {
    let stmt = Query::select()
        .column(("u", "id"))
        .column(("t", "name"))
        .from_as("users", "u")
        .inner_join(
            ("dbo", "tenants"),
            Expr::col(("u", "tenant_id")).equals(("tenants", "id")),
        )
        .left_join(
            "roles",
            Expr::col(("roles", "user_id"))
                .equals(("u", "id"))
                .and(Expr::col(("roles", "active")).eq(true)),
        )
        .and_where(Expr::col(("u", "id")).is_in([1, 2, 3]))
        .order_by(("u", "id"), Order::Desc)
        .limit(50)
        .to_owned();
    let (sql, values) = tsql(stmt.clone());
    assert_eq!(
        sql,
        "SELECT [u].[id], [t].[name] FROM [users] AS [u] \
         INNER JOIN [dbo].[tenants] ON [u].[tenant_id] = [tenants].[id] \
         LEFT JOIN [roles] ON [roles].[user_id] = [u].[id] AND [roles].[active] = @P1 \
         WHERE [u].[id] IN (@P2, @P3, @P4) ORDER BY [u].[id] DESC OFFSET 0 ROWS FETCH NEXT @P5 ROWS ONLY"
    );
    assert_eq!(values[0], Value::Bool(Some(true)));
    assert!(str::contains(
        &stmt.to_string(TsqlQueryBuilder),
        "[roles].[active] = 1 WHERE [u].[id] IN (1, 2, 3)"
    ));
}

#[test]
fn every_select_pages_on_its_own_and_placeholders_follow_the_text() {
    let inner = Query::select()
        .column("user_id")
        .from("logins")
        .and_where(Expr::col("ok").eq(false))
        .order_by("at", Order::Desc)
        .limit(3)
        .to_owned();
    let stmt = Query::select()
        .column("id")
        .from_subquery(inner, "recent")
        .and_where(Expr::col("id").gt(10))
        .offset(1)
        .limit(2)
        .to_owned();
    let (sql, values) = tsql(stmt);
    assert_eq!(
        sql,
        "SELECT [id] FROM (SELECT [user_id] FROM [logins] WHERE [ok] = @P1 ORDER BY [at] DESC \
         OFFSET 0 ROWS FETCH NEXT @P2 ROWS ONLY) AS [recent] WHERE [id] > @P3 \
         ORDER BY (SELECT NULL) OFFSET @P4 ROWS FETCH NEXT @P5 ROWS ONLY"
    );
    assert_eq!(
        values,
        [
            false.into(),
            Value::BigInt(Some(3)),
            10.into(),
            Value::BigInt(Some(1)),
            Value::BigInt(Some(2))
        ]
    );
}

#[test]
fn union_without_order_by_orders_by_the_first_column() {
    let stmt = Query::select()
        .column("id")
        .from("a")
        .union(
            UnionType::All,
            Query::select().column("id").from("b").to_owned(),
        )
        .limit(5)
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "SELECT [id] FROM [a] UNION ALL (SELECT [id] FROM [b]) ORDER BY 1 OFFSET 0 ROWS FETCH NEXT @P1 ROWS ONLY"
    );
}

#[test]
fn order_by_inside_a_window_does_not_count_as_the_query_order() {
    let stmt = Query::select()
        .expr_window_as(
            Func::count(Expr::col(Asterisk)),
            sea_query::WindowStatement::partition_by("tenant_id")
                .order_by("id", Order::Asc)
                .to_owned(),
            "n",
        )
        .from("users")
        .limit(1)
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "SELECT COUNT(*) OVER ( PARTITION BY [tenant_id] ORDER BY [id] ASC ) AS [n] FROM [users] \
         ORDER BY (SELECT NULL) OFFSET 0 ROWS FETCH NEXT @P1 ROWS ONLY"
    );
}

#[test]
fn recursive_cte_drops_the_keyword() {
    let cte = CommonTableExpression::new()
        .query(
            Query::select()
                .column("id")
                .from("org")
                .and_where(Expr::col("parent").is_null())
                .to_owned(),
        )
        .column("id")
        .table_name("tree")
        .to_owned();
    let stmt = Query::select()
        .column("id")
        .from("tree")
        .with_cte(WithClause::new().recursive(true).cte(cte).to_owned())
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "WITH [tree] ([id]) AS (SELECT [id] FROM [org] WHERE [parent] IS NULL) SELECT [id] FROM [tree]"
    );
}

#[test]
fn empty_conditions_are_predicates() {
    let stmt = Query::select()
        .column("id")
        .from("t")
        .cond_where(Condition::any())
        .to_owned();
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT [id] FROM [t] WHERE (1 = 0)"
    );
    let stmt = Query::select()
        .column("id")
        .from("t")
        .cond_where(Condition::all())
        .to_owned();
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT [id] FROM [t] WHERE (1 = 1)"
    );
}

#[test]
fn dialect_translations() {
    let stmt = Query::select()
        .expr(Expr::col("first").concat(Expr::col("last")))
        .expr(Func::if_null(Expr::col("nick"), "-"))
        .expr(Func::char_length(Expr::col("name")))
        .expr(Expr::current_date())
        .expr(Expr::current_timestamp())
        .from("users")
        .and_where(Expr::col("name").ilike("ann%"))
        .and_where(Expr::col("code").not_ilike(LikeExpr::new("a!%%").escape('!')))
        .to_owned();
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT [first] + [last], COALESCE([nick], N'-'), LEN([name]), CAST(SYSDATETIME() AS DATE), \
         CURRENT_TIMESTAMP FROM [users] WHERE (LOWER([name]) LIKE LOWER(N'ann%')) \
         AND (LOWER([code]) NOT LIKE LOWER(N'a!%%') ESCAPE N'!')"
    );
}

#[test]
fn custom_expressions_take_question_mark_placeholders() {
    let stmt = Query::select()
        .column("id")
        .from("t")
        .and_where(Expr::cust_with_values(
            "CAST([code] AS VARCHAR(20)) = CAST(? AS VARCHAR(20)) AND [note] <> '?' AND [q??] = ??",
            ["A1"],
        ))
        .and_where(Expr::col("x").eq(2))
        .to_owned();
    let stmt: Statement = stmt.into();
    let (sql, Values(values)) = render(&stmt).unwrap();
    assert_eq!(
        sql,
        "SELECT [id] FROM [t] WHERE (CAST([code] AS VARCHAR(20)) = CAST(@P1 AS VARCHAR(20)) \
         AND [note] <> '?' AND [q??] = ?) AND [x] = @P2"
    );
    assert_eq!(values, ["A1".into(), 2.into()]);

    let wrong = Query::select()
        .column("id")
        .from("t")
        .and_where(Expr::cust_with_values("a = ? AND b = ?", [1]))
        .to_owned();
    assert!(unsupported_feature(wrong).starts_with("custom expression"));
}

// ----- INSERT / UPDATE / DELETE ---------------------------------------------------------

#[test]
fn insert_single_row_with_output() {
    let stmt = Query::insert()
        .into_table("users")
        .columns(["tenant_id", "username"])
        .values_panic([7.into(), "jo".into()])
        .returning_col("id")
        .to_owned();
    let (sql, values) = tsql(stmt);
    assert_eq!(
        sql,
        "INSERT INTO [users] ([tenant_id], [username]) OUTPUT INSERTED.[id] VALUES (@P1, @P2)"
    );
    assert_eq!(values, [7.into(), "jo".into()]);
}

#[test]
fn insert_multi_row_with_output() {
    let stmt = Query::insert()
        .into_table("users")
        .columns(["tenant_id", "username"])
        .values_panic([7.into(), "a".into()])
        .values_panic([7.into(), "b".into()])
        .returning(Query::returning().columns(["id", "username"]))
        .to_owned();
    assert_eq!(
        tsql(stmt.clone()).0,
        "INSERT INTO [users] ([tenant_id], [username]) OUTPUT INSERTED.[id], INSERTED.[username] \
         VALUES (@P1, @P2), (@P3, @P4)"
    );
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "INSERT INTO [users] ([tenant_id], [username]) OUTPUT INSERTED.[id], INSERTED.[username] \
         VALUES (7, N'a'), (7, N'b')"
    );
}

#[test]
fn insert_output_all_and_default_values() {
    let stmt = Query::insert()
        .into_table("audit")
        .or_default_values()
        .returning_all()
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "INSERT INTO [audit] OUTPUT INSERTED.* DEFAULT VALUES"
    );
}

#[test]
fn insert_from_select_with_output() {
    let stmt = Query::insert()
        .into_table("archive")
        .columns(["id"])
        .select_from(
            Query::select()
                .column("id")
                .from("users")
                .and_where(Expr::col("deleted").eq(true))
                .to_owned(),
        )
        .unwrap()
        .returning_col(("archive", "id"))
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "INSERT INTO [archive] ([id]) OUTPUT INSERTED.[id] SELECT [id] FROM [users] WHERE [deleted] = @P1"
    );
}

#[test]
fn update_with_output() {
    let stmt = Query::update()
        .table("sessions")
        .values([
            ("revoked_at", Expr::current_timestamp()),
            ("reason", "logout".into()),
        ])
        .and_where(Expr::col("id").eq("s1"))
        .and_where(Expr::col("revoked_at").is_null())
        .returning(Query::returning().columns(["id", "user_id"]))
        .to_owned();
    let (sql, values) = tsql(stmt);
    assert_eq!(
        sql,
        "UPDATE [sessions] SET [revoked_at] = CURRENT_TIMESTAMP, [reason] = @P1 \
         OUTPUT INSERTED.[id], INSERTED.[user_id] WHERE [id] = @P2 AND [revoked_at] IS NULL"
    );
    assert_eq!(values, ["logout".into(), "s1".into()]);
}

#[test]
fn update_from_puts_output_before_from() {
    let stmt = Query::update()
        .table("users")
        .value("tenant_name", Expr::col(("tenants", "name")))
        .from("tenants")
        .and_where(Expr::col(("tenants", "id")).equals(("users", "tenant_id")))
        .returning_col("id")
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "UPDATE [users] SET [tenant_name] = [tenants].[name] OUTPUT INSERTED.[id] \
         FROM [tenants] WHERE [tenants].[id] = [users].[tenant_id]"
    );
}

#[test]
fn delete_with_output() {
    let stmt = Query::delete()
        .from_table("sessions")
        .and_where(Expr::col("expires_at").lt(Expr::current_timestamp()))
        .returning(Query::returning().columns(["id", "user_id"]))
        .to_owned();
    assert_eq!(
        tsql(stmt.clone()).0,
        "DELETE FROM [sessions] OUTPUT DELETED.[id], DELETED.[user_id] WHERE [expires_at] < CURRENT_TIMESTAMP"
    );
    let stmt = Query::delete()
        .from_table(("dbo", "sessions"))
        .and_where(Expr::col("id").eq(1))
        .returning_all()
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "DELETE FROM [dbo].[sessions] OUTPUT DELETED.* WHERE [id] = @P1"
    );
    let stmt = Query::delete().from_table("t").to_owned();
    assert_eq!(tsql(stmt).0, "DELETE FROM [t]");
}

#[test]
fn delete_with_cte() {
    let cte = CommonTableExpression::new()
        .query(Query::select().column("id").from("old").to_owned())
        .table_name("gone")
        .to_owned();
    let stmt = Query::delete()
        .from_table("t")
        .and_where(
            Expr::col("id").in_subquery(Query::select().column("id").from("gone").to_owned()),
        )
        .returning_col("id")
        .with_cte(WithClause::new().cte(cte).to_owned())
        .to_owned();
    assert_eq!(
        tsql(stmt).0,
        "WITH [gone] AS (SELECT [id] FROM [old]) DELETE FROM [t] OUTPUT DELETED.[id] \
         WHERE [id] IN (SELECT [id] FROM [gone])"
    );
}

// ----- identifiers and literals ---------------------------------------------------------

#[test]
fn awkward_identifiers_stay_quoted() {
    let stmt = Query::select()
        .column("a]b")
        .column("[x]")
        .column("first name")
        .column("it's \"quoted\"")
        .expr_as(Expr::col("顧客名"), "名前]")
        .from(("dbo]", "order items"))
        .to_owned();
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT [a]]b], [[x]]], [first name], [it's \"quoted\"], [顧客名] AS [名前]]] FROM [dbo]]].[order items]"
    );
    // Owned (runtime) names go through the same path as static ones.
    let stmt = Query::select()
        .column(String::from("x]; DROP TABLE t; --"))
        .from(String::from("t"))
        .to_owned();
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT [x]]; DROP TABLE t; --] FROM [t]"
    );
}

#[test]
fn awkward_strings_stay_inside_their_literal() {
    let stmt = Query::select()
        .exprs([
            Expr::val("it's"),
            Expr::val(r"back\slash\"),
            Expr::val("a -- b; DROP TABLE x; /*"),
            Expr::val("日本語 ✓ 😀"),
            Expr::val("two\nlines"),
            Expr::val("\\\nkept"),
            Expr::val("'; --"),
        ])
        .to_owned();
    assert_eq!(
        stmt.to_string(TsqlQueryBuilder),
        "SELECT N'it''s', N'back\\slash\\', N'a -- b; DROP TABLE x; /*', N'日本語 ✓ 😀', \
         N'two\nlines', (CAST(N'\\' AS NVARCHAR(MAX)) + N'\nkept'), N'''; --'"
    );
}

#[test]
fn inlined_values() {
    let date = NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
    let time = NaiveTime::from_hms_micro_opt(13, 5, 9, 120).unwrap();
    let utc = Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 58).unwrap();
    let zoned = FixedOffset::east_opt(2 * 3600)
        .unwrap()
        .with_ymd_and_hms(2024, 1, 31, 8, 0, 0)
        .unwrap();
    let uuid = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let values: [(Value, &str); 20] = [
        (true.into(), "1"),
        (false.into(), "0"),
        (Value::Bool(None), "NULL"),
        (Value::String(None), "NULL"),
        ((-42i64).into(), "-42"),
        (u64::MAX.into(), "18446744073709551615"),
        (1.5f64.into(), "1.5E0"),
        (0.1f32.into(), "1E-1"),
        (rust_decimal::Decimal::new(-12345, 2).into(), "-123.45"),
        ('é'.into(), "N'é'"),
        (vec![0xDEu8, 0xAD, 0x00].into(), "0xDEAD00"),
        (date.into(), "'2024-01-31'"),
        (time.into(), "'13:05:09.000120'"),
        (date.and_time(time).into(), "'2024-01-31T13:05:09.000120'"),
        (utc.into(), "'2024-01-31T23:59:58.000000+00:00'"),
        (zoned.into(), "'2024-01-31T08:00:00.000000+02:00'"),
        (uuid.into(), "'01234567-89ab-cdef-0123-456789abcdef'"),
        (
            serde_json::json!({"k": "it's"}).into(),
            r#"N'{"k":"it''s"}'"#,
        ),
        ("".into(), "N''"),
        (Value::Decimal(None), "NULL"),
    ];
    for (value, expected) in values {
        assert_eq!(
            TsqlQueryBuilder.value_to_string(&value),
            expected,
            "{value:?}"
        );
    }
}

#[test]
fn non_finite_floats_are_reported() {
    let stmt = Query::select().expr(Expr::val(f64::NAN)).to_owned();
    // Bound as a parameter it is the driver's problem; inlined it cannot be written.
    let (_, found) = report::collect(|| stmt.to_string(TsqlQueryBuilder));
    assert_eq!(found.len(), 1);
}

#[test]
fn escape_builder_doubles_quotes_only() {
    use sea_query::EscapeBuilder;
    assert_eq!(TsqlQueryBuilder.escape_string(r"a'b\c"), r"a''b\c");
    assert_eq!(TsqlQueryBuilder.unescape_string("a''b"), "a'b");
    assert!(!TsqlQueryBuilder.needs_escape(r"a\b"));
}

// ----- render() -------------------------------------------------------------------------

#[test]
fn render_matches_build_for_supported_statements() {
    let stmt: Statement = users_page().limit(10).into();
    assert_eq!(render(&stmt).unwrap(), stmt.build(&TsqlQueryBuilder));
}

#[test]
fn render_rejects_on_conflict() {
    let stmt = Query::insert()
        .into_table("users")
        .columns(["id", "name"])
        .values_panic([1.into(), "a".into()])
        .on_conflict(OnConflict::column("id").update_column("name").to_owned())
        .to_owned();
    assert_eq!(unsupported_feature(stmt.clone()), "INSERT ... ON CONFLICT");
    // Built anyway, the statement keeps the clause and fails on the server rather than
    // inserting duplicates silently.
    assert!(str::contains(&tsql(stmt).0, " ON CONFLICT "));
    let err = render(
        &Query::insert()
            .into_table("t")
            .columns(["id"])
            .values_panic([1.into()])
            .on_conflict(OnConflict::column("id").do_nothing().to_owned())
            .to_owned()
            .into(),
    )
    .unwrap_err();
    assert!(str::contains(&err.to_string(), "upsert_batch"), "{err}");
}

#[test]
fn render_rejects_what_t_sql_cannot_express() {
    let locked = users_page().lock_exclusive().to_owned();
    assert_eq!(unsupported_feature(locked), "SELECT ... FOR UPDATE/SHARE");

    let distinct_on = Query::select()
        .distinct_on(["tenant_id"])
        .column("id")
        .from("users")
        .to_owned();
    assert_eq!(unsupported_feature(distinct_on), "SELECT DISTINCT ON");

    let nulls = Query::select()
        .column("id")
        .from("users")
        .order_by_with_nulls("last_login", Order::Desc, NullOrdering::Last)
        .to_owned();
    assert_eq!(
        unsupported_feature(nulls.clone()),
        "ORDER BY ... NULLS FIRST/LAST"
    );
    assert_eq!(
        tsql(nulls).0,
        "SELECT [id] FROM [users] ORDER BY [last_login] DESC NULLS LAST"
    );

    let update_limit = Query::update().table("t").value("a", 1).limit(5).to_owned();
    assert_eq!(unsupported_feature(update_limit), "UPDATE ... LIMIT");

    let update_order = Query::update()
        .table("t")
        .value("a", 1)
        .order_by("id", Order::Asc)
        .to_owned();
    assert_eq!(unsupported_feature(update_order), "UPDATE ... ORDER BY");

    let delete_order = Query::delete()
        .from_table("t")
        .order_by("id", Order::Asc)
        .to_owned();
    assert_eq!(unsupported_feature(delete_order), "DELETE ... ORDER BY");

    let delete_limit = Query::delete().from_table("t").limit(3).to_owned();
    assert_eq!(
        unsupported_feature(delete_limit.clone()),
        "DELETE ... LIMIT"
    );
    assert_eq!(tsql(delete_limit).0, "DELETE FROM [t] LIMIT @P1");

    let limit_zero = Query::select().column("id").from("t").limit(0).to_owned();
    assert_eq!(unsupported_feature(limit_zero), "LIMIT 0");

    let replace = Query::insert()
        .replace()
        .into_table("t")
        .columns(["id"])
        .values_panic([1.into()])
        .to_owned();
    assert_eq!(unsupported_feature(replace), "REPLACE INTO");

    let lateral = Query::select()
        .column("id")
        .from("a")
        .join_lateral(
            sea_query::JoinType::InnerJoin,
            Query::select().column("x").from("b").to_owned(),
            "l",
            Expr::col(("l", "x")).equals(("a", "id")),
        )
        .to_owned();
    assert_eq!(unsupported_feature(lateral), "LATERAL join");

    let md5 = Query::select()
        .expr(Func::md5(Expr::col("a")))
        .from("t")
        .to_owned();
    assert_eq!(unsupported_feature(md5), "MD5()");

    let regex = Query::select()
        .column("id")
        .from("t")
        .and_where(Expr::col("a").binary(sea_query::extension::postgres::PgBinOper::Regex, "x"))
        .to_owned();
    assert_eq!(unsupported_feature(regex), "PostgreSQL-specific operator");
}

#[test]
fn the_first_problem_is_reported_and_nothing_leaks_into_later_renders() {
    let bad = Query::select()
        .column("id")
        .from("t")
        .limit(0)
        .lock_exclusive()
        .to_owned();
    assert_eq!(unsupported_feature(bad), "LIMIT 0");
    assert!(render(&users_page().into()).is_ok());
    // Builds outside `render` collect nothing.
    let (_, found) = report::collect(|| ());
    assert!(found.is_empty());
}

#[test]
fn statement_build_uses_the_builder() {
    let stmt: Statement = Query::delete()
        .from_table("t")
        .and_where(Expr::col("id").eq(1))
        .into();
    assert_eq!(
        stmt.build(&TsqlQueryBuilder),
        (
            "DELETE FROM [t] WHERE [id] = @P1".to_owned(),
            Values(vec![1.into()])
        )
    );
}

// ----- PostgreSQL is unaffected ---------------------------------------------------------

#[test]
fn postgres_rendering_is_unchanged() {
    let page = users_page().limit(10).offset(20).to_owned();
    let insert = Query::insert()
        .into_table("users")
        .columns(["tenant_id", "username"])
        .values_panic([7.into(), "jo".into()])
        .returning_col("id")
        .to_owned();
    let delete = Query::delete()
        .from_table("sessions")
        .and_where(Expr::col("id").eq(1))
        .returning_col("user_id")
        .to_owned();
    let expected = [
        r#"SELECT "id", "username", "email" FROM "users" WHERE "tenant_id" = $1 AND "username" LIKE $2 ORDER BY "username" ASC LIMIT $3 OFFSET $4"#,
        r#"INSERT INTO "users" ("tenant_id", "username") VALUES ($1, $2) RETURNING "id""#,
        r#"DELETE FROM "sessions" WHERE "id" = $1 RETURNING "user_id""#,
    ];
    let statements: [Statement; 3] = [page.into(), insert.into(), delete.into()];
    for (stmt, expected) in statements.iter().zip(expected) {
        assert_eq!(stmt.build(&PostgresQueryBuilder).0, expected);
        // Rendering with T-SQL in between neither mutates the statement nor leaves state
        // behind that the PostgreSQL builder would see.
        let _ = render(stmt);
        let _ = stmt.build(&TsqlQueryBuilder);
        assert_eq!(stmt.build(&PostgresQueryBuilder).0, expected);
    }
}

// ----- upsert_batch ---------------------------------------------------------------------

#[test]
fn upsert_batch_golden() {
    let (sql, Values(values)) = upsert_batch(
        "user_settings",
        &[("user_id", 5.into()), ("key", "theme".into())],
        &[
            ("value", "dark".into()),
            ("updated_at", Value::BigInt(Some(1_700_000_000))),
        ],
    )
    .unwrap();
    assert_eq!(
        sql,
        "UPDATE [user_settings] SET [value] = @P1, [updated_at] = @P2 WHERE [user_id] = @P3 AND [key] = @P4; \
         IF @@ROWCOUNT = 0 INSERT INTO [user_settings] ([user_id], [key], [value], [updated_at]) \
         VALUES (@P3, @P4, @P1, @P2)"
    );
    assert_eq!(values.len(), 4);
    assert_eq!(values[0], "dark".into());
    assert_eq!(values[2], 5.into());
    assert_eq!(values[3], "theme".into());
}

#[test]
fn upsert_batch_key_only_inserts_if_missing() {
    let (sql, Values(values)) = upsert_batch("tags", &[("name", "x".into())], &[]).unwrap();
    assert_eq!(
        sql,
        "IF NOT EXISTS (SELECT 1 FROM [tags] WHERE [name] = @P1) INSERT INTO [tags] ([name]) VALUES (@P1)"
    );
    assert_eq!(values, ["x".into()]);
}

#[test]
fn upsert_batch_quotes_and_validates() {
    let (sql, _) = upsert_batch("a]b", &[("k k", 1.into())], &[("v'", 2.into())]).unwrap();
    assert_eq!(
        sql,
        "UPDATE [a]]b] SET [v'] = @P1 WHERE [k k] = @P2; IF @@ROWCOUNT = 0 INSERT INTO [a]]b] ([k k], [v']) VALUES (@P2, @P1)"
    );
    assert!(matches!(
        upsert_batch("", &[("k", 1.into())], &[]),
        Err(TsqlError::InvalidIdentifier { .. })
    ));
    assert!(matches!(
        upsert_batch("t", &[("", 1.into())], &[]),
        Err(TsqlError::InvalidIdentifier { .. })
    ));
    assert!(matches!(
        upsert_batch("t", &[], &[("v", 1.into())]),
        Err(TsqlError::InvalidUpsert(_))
    ));
    assert!(matches!(
        upsert_batch("t", &[("k", 1.into())], &[("K", 2.into())]),
        Err(TsqlError::InvalidUpsert(_))
    ));
    assert!(matches!(
        upsert_batch("t", &[("k", Value::Int(None))], &[("v", 2.into())]),
        Err(TsqlError::InvalidUpsert(_))
    ));
    // NULL is fine as a value to set, and is written as NULL in both halves, not bound.
    let (sql, Values(values)) = upsert_batch(
        "t",
        &[("k", 1.into())],
        &[("v", Value::String(None)), ("w", 2.into())],
    )
    .unwrap();
    assert_eq!(
        sql,
        "UPDATE [t] SET [v] = NULL, [w] = @P1 WHERE [k] = @P2; IF @@ROWCOUNT = 0 \
         INSERT INTO [t] ([k], [v], [w]) VALUES (@P2, NULL, @P1)"
    );
    assert_eq!(values, [2.into(), 1.into()]);
}

#[test]
fn render_writes_nulls_into_the_text() {
    let stmt: Statement = Query::update()
        .table("t")
        .values([("a", Expr::val(Value::String(None))), ("b", Expr::val(3))])
        .and_where(Expr::col("id").eq(9))
        .and_where(Expr::col("tag").eq(Value::ChronoDateTime(None)))
        .to_owned()
        .into();
    let (sql, Values(values)) = render(&stmt).unwrap();
    assert_eq!(
        sql,
        "UPDATE [t] SET [a] = NULL, [b] = @P1 WHERE [id] = @P2 AND [tag] = NULL"
    );
    assert_eq!(values, [3.into(), 9.into()]);
}
