//! Integration tests against a real SQL Server. They need `MSSQL_TEST_URL`, an ADO.NET
//! connection string such as
//! `Server=tcp:localhost,1433;Database=erp_test;User Id=sa;Password=..;TrustServerCertificate=true`
//! (the login needs CREATE TABLE in that database), and skip themselves without it
//! (`ERP_REQUIRE_MSSQL=1` makes that a failure). They run on SQL Server 2016+, Azure SQL
//! and Babelfish for PostgreSQL (stock TDS, as on Aurora), expecting Babelfish's
//! documented differences where it has them.
//!
//! Each test works in its own uniquely named tables, dropped when the test ends, even
//! when it fails.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use erp_core::{
    Error,
    sql::{Cell, Executor, Scope, Statement},
};
use erp_legacy::mssql::MssqlExecutor;
use sea_query::{Alias, Expr, ExprTrait, Query, Value};
use uuid::Uuid;

mod common;

use common::mssql::{Cleanup, config as test_config, connect, is_babelfish, unique as table};

/// A table the test creates; dropped when `cleanup` is, even if the test panics.
async fn create_table(executor: &MssqlExecutor, cleanup: &mut Cleanup, name: &str, sql: &str) {
    cleanup.push(format!("DROP TABLE IF EXISTS {name}"));
    executor.batch_execute_raw(sql).await.expect("create table");
}

#[tokio::test]
async fn mssql_connects_and_pings() {
    let Some(config) = test_config() else { return };
    let executor = connect(config.clone()).await;
    let latency = executor.ping().await.expect("ping");
    assert!(latency < Duration::from_secs(15));
    let rows = executor
        .query_raw(
            "SELECT CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(128)) AS v",
            &[],
        )
        .await
        .unwrap();
    assert!(matches!(rows[0].cell("v").unwrap(), Cell::Text(_)));
}

/// The builder's T-SQL forms that only a server can judge: OFFSET/FETCH without an ORDER
/// BY (`ORDER BY (SELECT NULL)`), `OUTPUT INSERTED` / `OUTPUT DELETED`, `SYSDATETIME()`,
/// and NULLs written into the text.
#[tokio::test]
async fn mssql_builder_forms_run_on_the_server() {
    let Some(config) = test_config() else { return };
    let executor = connect(config.clone()).await;
    let mut cleanup = Cleanup::new(&config);
    let t = table("forms");
    create_table(
        &executor,
        &mut cleanup,
        &t,
        &format!(
            "CREATE TABLE {t} (id INT IDENTITY(1,1) PRIMARY KEY, name NVARCHAR(20) NULL, \
             seen DATE NULL)"
        ),
    )
    .await;
    let name = || Alias::new("name");
    let id = || Alias::new("id");
    let insert = |value: Value| -> Statement {
        Query::insert()
            .into_table(Alias::new(t.clone()))
            .columns([name(), Alias::new("seen")])
            .values_panic([Expr::val(value), Expr::current_date()])
            .returning_col(id())
            .to_owned()
            .into()
    };
    let scope = Scope::Global;
    let first = executor
        .fetch_all(scope, &insert("a".into()))
        .await
        .unwrap();
    let second = executor
        .fetch_all(scope, &insert(Value::String(None)))
        .await
        .unwrap();
    assert_eq!(first[0].get::<i64>("id").unwrap(), 1);
    assert_eq!(second[0].get::<i64>("id").unwrap(), 2);

    let page: Statement = Query::select()
        .columns([id(), name()])
        .from(Alias::new(t.clone()))
        .and_where(Expr::col(name()).is_null())
        .limit(5)
        .to_owned()
        .into();
    let rows = executor.fetch_all(scope, &page).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].cell("name").unwrap(), &Cell::Null);

    let delete: Statement = Query::delete()
        .from_table(Alias::new(t.clone()))
        .and_where(Expr::col(id()).eq(1))
        .returning_col(name())
        .to_owned()
        .into();
    let deleted = executor.fetch_all(scope, &delete).await.unwrap();
    assert_eq!(deleted[0].get::<String>("name").unwrap(), "a");
}

#[tokio::test]
async fn mssql_every_mapped_type_round_trips() {
    let Some(config) = test_config() else { return };
    let executor = connect(config.clone()).await;
    let mut cleanup = Cleanup::new(&config);
    let babelfish = is_babelfish(&executor).await;
    let t = table("types");
    create_table(
        &executor,
        &mut cleanup,
        &t,
        &format!(
            "CREATE TABLE {t} (
                id INT NOT NULL PRIMARY KEY,
                b BIT NULL, ti TINYINT NULL, si SMALLINT NULL, i INT NULL, bi BIGINT NULL,
                r REAL NULL, f FLOAT NULL,
                dec DECIMAL(19,4) NULL, big DECIMAL(38,10) NULL,
                m MONEY NULL, sm SMALLMONEY NULL,
                vc VARCHAR(50) NULL, nvc NVARCHAR(50) NULL, ch CHAR(3) NULL, nch NCHAR(3) NULL,
                txt NVARCHAR(MAX) NULL,
                g UNIQUEIDENTIFIER NULL, vb VARBINARY(50) NULL, bin BINARY(3) NULL,
                d DATE NULL, tm TIME(7) NULL, dt DATETIME NULL, dt2 DATETIME2(7) NULL,
                sdt SMALLDATETIME NULL, dto DATETIMEOFFSET(7) NULL
            )"
        ),
    )
    .await;

    let id = Uuid::now_v7();
    let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
    let naive = day.and_hms_nano_opt(15, 9, 26, 535_897_900).unwrap();
    let whole_minute = day.and_hms_opt(15, 9, 0).unwrap();
    let plus_two = FixedOffset::east_opt(7200).unwrap();
    let local: DateTime<FixedOffset> = plus_two.from_local_datetime(&naive).unwrap();
    // Babelfish keeps microseconds where SQL Server keeps 100 ns (TIME(7), DATETIME2(7),
    // DATETIMEOFFSET(7)): DATETIME2 and DATETIMEOFFSET round to them, TIME truncates.
    let stored = if babelfish {
        day.and_hms_micro_opt(15, 9, 26, 535_898).unwrap()
    } else {
        naive
    };
    let stored_local: DateTime<FixedOffset> = plus_two.from_local_datetime(&stored).unwrap();
    let values = vec![
        Value::Int(Some(1)),
        Value::Bool(Some(true)),
        Value::TinyUnsigned(Some(255)),
        Value::TinyInt(Some(-8)),
        Value::Unsigned(Some(2_000_000_000)),
        Value::BigUnsigned(Some(9_000_000_000)),
        Value::Float(Some(0.5)),
        Value::Double(Some(2.25)),
        Value::Decimal(Some("1234.5600".parse().unwrap())),
        Value::String(Some("-9999999999999999999999999999.9999999999".into())),
        Value::Decimal(Some("922337203.4477".parse().unwrap())),
        Value::Decimal(Some("-0.0001".parse().unwrap())),
        Value::String(Some("plain ascii".into())),
        Value::String(Some("zß€ unicode".into())),
        Value::Char(Some('x')),
        Value::String(Some("é".into())),
        Value::Json(Some(Box::new(serde_json::json!({"a": [1, 2]})))),
        Value::Uuid(Some(id)),
        Value::Bytes(Some(vec![0, 1, 255])),
        Value::Bytes(Some(vec![9, 8, 7])),
        Value::ChronoDate(Some(day)),
        Value::ChronoTime(Some(naive.time())),
        Value::ChronoDateTime(Some(day.and_hms_opt(12, 0, 0).unwrap())),
        Value::ChronoDateTime(Some(naive)),
        Value::ChronoDateTime(Some(whole_minute)),
        Value::ChronoDateTimeWithTimeZone(Some(local)),
    ];
    let columns = "id, b, ti, si, i, bi, r, f, dec, big, m, sm, vc, nvc, ch, nch, txt, g, vb, \
                   bin, d, tm, dt, dt2, sdt, dto";
    let placeholders = tiberius::Query::placeholders(1, values.len());
    let inserted = executor
        .execute_raw(
            &format!("INSERT INTO {t} ({columns}) VALUES ({placeholders})"),
            &values,
        )
        .await
        .expect("insert");
    assert_eq!(inserted, 1);

    // NULLs of every parameter type.
    let nulls = vec![
        Value::Int(Some(2)),
        Value::Bool(None),
        Value::TinyUnsigned(None),
        Value::TinyInt(None),
        Value::Unsigned(None),
        Value::BigUnsigned(None),
        Value::Float(None),
        Value::Double(None),
        Value::Decimal(None),
        Value::String(None),
        Value::Decimal(None),
        Value::Decimal(None),
        Value::String(None),
        Value::String(None),
        Value::Char(None),
        Value::String(None),
        Value::Json(None),
        Value::Uuid(None),
        Value::Bytes(None),
        Value::Bytes(None),
        Value::ChronoDate(None),
        Value::ChronoTime(None),
        Value::ChronoDateTime(None),
        Value::ChronoDateTimeUtc(None),
        Value::ChronoDateTime(None),
        Value::ChronoDateTimeWithTimeZone(None),
    ];
    executor
        .execute_raw(
            &format!("INSERT INTO {t} ({columns}) VALUES ({placeholders})"),
            &nulls,
        )
        .await
        .expect("insert NULLs");

    let rows = executor
        .query_raw(
            &format!(
                "SELECT {columns}, CAST(m AS DECIMAL(19,4)) AS m_exact FROM {t} \
                 WHERE id = @P1"
            ),
            &[Value::Int(Some(1))],
        )
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let cell = |c: &str| row.cell(c).unwrap().clone();
    assert_eq!(cell("b"), Cell::Bool(true));
    assert_eq!(cell("ti"), Cell::Int(255));
    assert_eq!(cell("si"), Cell::Int(-8));
    assert_eq!(cell("i"), Cell::Int(2_000_000_000));
    assert_eq!(cell("bi"), Cell::Int(9_000_000_000));
    assert_eq!(cell("r"), Cell::Float(0.5));
    assert_eq!(cell("f"), Cell::Float(2.25));
    assert_eq!(cell("dec"), Cell::Text("1234.5600".into()));
    assert_eq!(
        cell("big"),
        Cell::Text("-9999999999999999999999999999.9999999999".into())
    );
    assert_eq!(cell("m"), Cell::Text("922337203.4477".into()));
    assert_eq!(cell("m_exact"), Cell::Text("922337203.4477".into()));
    assert_eq!(cell("sm"), Cell::Text("-0.0001".into()));
    assert_eq!(cell("vc"), Cell::Text("plain ascii".into()));
    assert_eq!(cell("nvc"), Cell::Text("zß€ unicode".into()));
    assert_eq!(cell("ch"), Cell::Text("x  ".into()), "CHAR pads");
    assert_eq!(cell("nch"), Cell::Text("é  ".into()));
    assert_eq!(
        row.get::<serde_json::Value>("txt").unwrap(),
        serde_json::json!({"a": [1, 2]})
    );
    assert_eq!(cell("g"), Cell::Uuid(id));
    assert_eq!(cell("vb"), Cell::Bytes(vec![0, 1, 255]));
    assert_eq!(cell("bin"), Cell::Bytes(vec![9, 8, 7]));
    assert_eq!(cell("d"), Cell::Text("2026-03-14".into()));
    let time = if babelfish {
        "15:09:26.535897"
    } else {
        "15:09:26.535897900"
    };
    assert_eq!(cell("tm"), Cell::Text(time.into()));
    assert_eq!(
        cell("dt"),
        Cell::Timestamp(day.and_hms_opt(12, 0, 0).unwrap().and_utc())
    );
    assert_eq!(cell("dt2"), Cell::Timestamp(stored.and_utc()));
    assert_eq!(cell("sdt"), Cell::Timestamp(whole_minute.and_utc()));
    assert_eq!(
        cell("dto"),
        Cell::Timestamp(stored_local.with_timezone(&Utc))
    );

    let rows = executor
        .query_raw(
            &format!("SELECT {columns} FROM {t} WHERE id = @P1"),
            &[Value::Int(Some(2))],
        )
        .await
        .unwrap();
    for name in rows[0].columns().iter().filter(|c| *c != "id") {
        assert_eq!(rows[0].cell(name).unwrap(), &Cell::Null, "{name}");
    }

    // A UTC instant bound as datetimeoffset lands in a DATETIME2 column as UTC.
    let utc = Utc.from_utc_datetime(&naive);
    executor
        .execute_raw(
            &format!("UPDATE {t} SET dt2 = @P1 WHERE id = 2"),
            &[Value::ChronoDateTimeUtc(Some(utc))],
        )
        .await
        .unwrap();
    let rows = executor
        .query_raw(&format!("SELECT dt2 FROM {t} WHERE id = 2"), &[])
        .await
        .unwrap();
    assert_eq!(
        rows[0].cell("dt2").unwrap(),
        &Cell::Timestamp(Utc.from_utc_datetime(&stored))
    );

    // sql_variant is refused with a decode error, not a panic; the pool goes on.
    let err = executor
        .query_raw("SELECT SERVERPROPERTY('ProductVersion') AS v", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Decode { ref column, .. } if column == "v"),
        "{err:?}"
    );
    executor.ping().await.expect("still usable");
}

#[tokio::test]
async fn mssql_constraint_errors_map_to_kinds_and_batches_are_atomic() {
    let Some(config) = test_config() else { return };
    let executor = connect(config.clone()).await;
    let mut cleanup = Cleanup::new(&config);
    let parent = table("parent");
    let child = table("child");
    create_table(
        &executor,
        &mut cleanup,
        &parent,
        &format!(
            "CREATE TABLE {parent} (id INT NOT NULL PRIMARY KEY, \
             name NVARCHAR(20) NOT NULL CONSTRAINT uq_{parent} UNIQUE)"
        ),
    )
    .await;
    create_table(
        &executor,
        &mut cleanup,
        &child,
        &format!(
            "CREATE TABLE {child} (id INT NOT NULL PRIMARY KEY,
                 parent_id INT NOT NULL CONSTRAINT fk_{child} REFERENCES {parent}(id),
                 qty INT NOT NULL CONSTRAINT ck_{child} CHECK (qty > 0))"
        ),
    )
    .await;

    let insert_parent = |id: i32, name: &str| -> Statement {
        Query::insert()
            .into_table(Alias::new(parent.clone()))
            .columns([Alias::new("id"), Alias::new("name")])
            .values_panic([id.into(), name.into()])
            .to_owned()
            .into()
    };
    let scope = Scope::Global;
    assert_eq!(
        executor
            .execute(scope, &insert_parent(1, "a"))
            .await
            .unwrap(),
        1
    );

    let dup = executor
        .execute(scope, &insert_parent(2, "a"))
        .await
        .unwrap_err();
    match &dup {
        Error::Conflict { detail, .. } => {
            assert_eq!(*detail, format!("uq_{parent}"), "names the constraint")
        }
        other => panic!("{other:?}"),
    }

    // The batch fails on its second statement: the first is rolled back.
    let err = executor
        .execute_batch(scope, &[insert_parent(3, "c"), insert_parent(1, "dup-id")])
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    let rows = executor
        .fetch_all(
            scope,
            &Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(parent.clone()))
                .to_owned()
                .into(),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the first insert survived");
    let counts = executor
        .execute_batch(scope, &[insert_parent(3, "c"), insert_parent(4, "d")])
        .await
        .unwrap();
    assert_eq!(counts, vec![1, 1]);

    let missing_parent = executor
        .execute_raw(
            &format!("INSERT INTO {child} (id, parent_id, qty) VALUES (@P1, @P2, @P3)"),
            &[
                Value::Int(Some(1)),
                Value::Int(Some(99)),
                Value::Int(Some(1)),
            ],
        )
        .await
        .unwrap_err();
    assert!(missing_parent.is_not_found(), "{missing_parent:?}");

    let bad_qty = executor
        .execute_raw(
            &format!("INSERT INTO {child} (id, parent_id, qty) VALUES (@P1, @P2, @P3)"),
            &[
                Value::Int(Some(1)),
                Value::Int(Some(1)),
                Value::Int(Some(0)),
            ],
        )
        .await
        .unwrap_err();
    match &bad_qty {
        Error::InvalidInput { field, message } => {
            assert_eq!(*field, format!("ck_{child}"));
            assert_eq!(message, "violates a check constraint");
        }
        other => panic!("a CHECK violation is invalid input: {other:?}"),
    }

    let null_name = executor
        .execute_raw(
            &format!("INSERT INTO {parent} (id, name) VALUES (@P1, @P2)"),
            &[Value::Int(Some(9)), Value::String(None)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(null_name, Error::InvalidInput { ref field, .. } if field == "name"),
        "{null_name:?}"
    );

    executor
        .execute_raw(
            &format!("INSERT INTO {child} (id, parent_id, qty) VALUES (1, 1, 1)"),
            &[],
        )
        .await
        .unwrap();
    let still_referenced = executor
        .execute(
            scope,
            &Query::delete()
                .from_table(Alias::new(parent.clone()))
                .and_where(Expr::col(Alias::new("id")).eq(1))
                .to_owned()
                .into(),
        )
        .await
        .unwrap_err();
    match &still_referenced {
        Error::Conflict { detail, .. } => {
            assert_eq!(*detail, format!("row is still referenced (fk_{child})"))
        }
        other => panic!("{other:?}"),
    }

    // Server errors leave the connection usable.
    executor.ping().await.expect("ping after errors");
}

#[tokio::test]
async fn mssql_query_timeout_discards_the_connection_and_the_pool_recovers() {
    let Some(config) = test_config() else { return };
    let executor = connect(
        config
            .with_max_size(1)
            .with_query_timeout(Duration::from_millis(300)),
    )
    .await;
    // A ten-second statement on either server (Babelfish has no WAITFOR, SQL Server no
    // pg_sleep): far enough from the 300 ms timeout that a loaded CI machine cannot blur
    // "the timeout fired" with "the statement finished".
    let sleep = if is_babelfish(&executor).await {
        "EXEC pg_catalog.pg_sleep 10"
    } else {
        "WAITFOR DELAY '00:00:10'"
    };
    let started = Instant::now();
    let err = executor.batch_execute_raw(sleep).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );

    // Same through a parameterised call.
    let err = executor
        .query_raw(&format!("{sleep}; SELECT @P1 AS x"), &[Value::Int(Some(1))])
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");

    // The single pool slot was freed and a fresh connection answers.
    executor.ping().await.expect("ping after timeout");
    let rows = executor
        .query_raw("SELECT @P1 AS x", &[Value::Int(Some(7))])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<i64>("x").unwrap(), 7);
}

#[tokio::test]
async fn mssql_table_columns_resolve_like_unqualified_queries() {
    let Some(config) = test_config() else { return };
    let executor = connect(config.clone()).await;
    let schema = format!("erp_l_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let name = table("cat");
    let mut cleanup = Cleanup::new(&config);
    cleanup.push(format!("DROP SCHEMA IF EXISTS {schema}"));
    cleanup.push(format!("DROP TABLE IF EXISTS dbo.{name}"));
    cleanup.push(format!("DROP TABLE IF EXISTS {schema}.{name}"));
    // CREATE SCHEMA must be alone in its batch.
    executor
        .batch_execute_raw(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    executor
        .batch_execute_raw(&format!(
            "CREATE TABLE {schema}.{name} (x INT, y NVARCHAR(10))"
        ))
        .await
        .unwrap();
    // Only in another schema: an unqualified query would not find it (the start-up
    // check used to accept it, and every request then failed).
    assert!(
        executor
            .table_columns(None, &name)
            .await
            .unwrap()
            .is_empty(),
        "a table in another schema is not the default schema's"
    );
    assert_eq!(
        executor.table_columns(Some(&schema), &name).await.unwrap(),
        ["x", "y"]
    );
    assert_eq!(
        executor
            .table_columns(Some(&schema.to_uppercase()), &name.to_uppercase())
            .await
            .unwrap(),
        ["x", "y"],
        "names compare without regard to case, as in queries"
    );
    executor
        .batch_execute_raw(&format!("CREATE TABLE dbo.{name} (z INT)"))
        .await
        .unwrap();
    assert_eq!(
        executor.table_columns(None, &name).await.unwrap(),
        ["z"],
        "the default schema's table"
    );
    assert!(
        executor
            .table_columns(Some("no_such_schema"), &name)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        executor
            .table_columns(None, &format!("{schema}.{name}"))
            .await
            .unwrap()
            .is_empty(),
        "a dot is part of the name, not a qualifier"
    );
}
