//! Integration tests against a real SQL Server. They need `MSSQL_TEST_URL`, an ADO.NET
//! connection string such as
//! `Server=tcp:localhost,1433;Database=erp_test;User Id=sa;Password=..;TrustServerCertificate=true`
//! (the login needs CREATE TABLE in that database), and skip themselves without it.
//!
//! Each test works in its own uniquely named table and drops it at the end.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use erp_core::{
    Error,
    sql::{Cell, Executor, Scope, Statement},
};
use erp_legacy::mssql::{MssqlConfig, MssqlExecutor};
use sea_query::{Alias, Expr, ExprTrait, Query, Value};
use uuid::Uuid;

/// The configuration from `MSSQL_TEST_URL`, or `None` after saying the test is skipped.
fn test_config() -> Option<MssqlConfig> {
    match std::env::var("MSSQL_TEST_URL") {
        Ok(url) if !url.trim().is_empty() => Some(
            MssqlConfig::from_env_value("MSSQL_TEST_URL", &url)
                .expect("MSSQL_TEST_URL is not a valid connection string")
                .with_connect_timeout(Duration::from_secs(15)),
        ),
        _ if std::env::var("ERP_REQUIRE_MSSQL").as_deref() == Ok("1") => {
            panic!("ERP_REQUIRE_MSSQL=1 but MSSQL_TEST_URL is not set")
        }
        _ => {
            eprintln!("skipped: MSSQL_TEST_URL not set");
            None
        }
    }
}

/// A table name no other test run uses.
fn table(prefix: &str) -> String {
    format!("erp_test_{prefix}_{}", Uuid::new_v4().simple())
}

async fn drop_table(executor: &MssqlExecutor, name: &str) {
    let _ = executor
        .batch_execute_raw(&format!("DROP TABLE IF EXISTS {name}"))
        .await;
}

#[tokio::test]
async fn connects_and_pings() {
    let Some(config) = test_config() else { return };
    let executor = MssqlExecutor::connect(config).await.expect("connect");
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

#[tokio::test]
async fn every_mapped_type_round_trips() {
    let Some(config) = test_config() else { return };
    let executor = MssqlExecutor::connect(config).await.expect("connect");
    let t = table("types");
    executor
        .batch_execute_raw(&format!(
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
        ))
        .await
        .expect("create table");

    let id = Uuid::now_v7();
    let day = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
    let naive = day.and_hms_nano_opt(15, 9, 26, 535_897_900).unwrap();
    let whole_minute = day.and_hms_opt(15, 9, 0).unwrap();
    let plus_two = FixedOffset::east_opt(7200).unwrap();
    let local: DateTime<FixedOffset> = plus_two.from_local_datetime(&naive).unwrap();
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
    assert_eq!(cell("tm"), Cell::Text("15:09:26.535897900".into()));
    assert_eq!(
        cell("dt"),
        Cell::Timestamp(day.and_hms_opt(12, 0, 0).unwrap().and_utc())
    );
    assert_eq!(cell("dt2"), Cell::Timestamp(naive.and_utc()));
    assert_eq!(cell("sdt"), Cell::Timestamp(whole_minute.and_utc()));
    assert_eq!(cell("dto"), Cell::Timestamp(local.with_timezone(&Utc)));

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
    assert_eq!(rows[0].cell("dt2").unwrap(), &Cell::Timestamp(utc));

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

    drop_table(&executor, &t).await;
}

#[tokio::test]
async fn constraint_errors_map_to_kinds_and_batches_are_atomic() {
    let Some(config) = test_config() else { return };
    let executor = MssqlExecutor::connect(config).await.expect("connect");
    let parent = table("parent");
    let child = table("child");
    executor
        .batch_execute_raw(&format!(
            "CREATE TABLE {parent} (id INT NOT NULL PRIMARY KEY, name NVARCHAR(20) NOT NULL UNIQUE);
             CREATE TABLE {child} (id INT NOT NULL PRIMARY KEY,
                 parent_id INT NOT NULL REFERENCES {parent}(id),
                 qty INT NOT NULL CHECK (qty > 0));"
        ))
        .await
        .expect("create tables");

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
    assert!(dup.is_conflict(), "{dup:?}");

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
    assert!(matches!(bad_qty, Error::InvalidInput { .. }), "{bad_qty:?}");

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
    assert!(still_referenced.is_conflict(), "{still_referenced:?}");

    // Server errors leave the connection usable.
    executor.ping().await.expect("ping after errors");
    drop_table(&executor, &child).await;
    drop_table(&executor, &parent).await;
}

#[tokio::test]
async fn query_timeout_discards_the_connection_and_the_pool_recovers() {
    let Some(config) = test_config() else { return };
    let executor = MssqlExecutor::connect(
        config
            .with_max_size(1)
            .with_query_timeout(Duration::from_millis(300)),
    )
    .await
    .expect("connect");
    let started = Instant::now();
    let err = executor
        .batch_execute_raw("WAITFOR DELAY '00:00:05'")
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // Same through a parameterised call.
    let err = executor
        .query_raw(
            "WAITFOR DELAY '00:00:05'; SELECT @P1 AS x",
            &[Value::Int(Some(1))],
        )
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

/// Runs T-SQL batches when the test ends, even when it panics (each on its own, so one
/// failing does not skip the rest).
struct CleanupSql {
    config: MssqlConfig,
    batches: Vec<String>,
}

impl Drop for CleanupSql {
    fn drop(&mut self) {
        let (config, batches) = (self.config.clone(), std::mem::take(&mut self.batches));
        // Drop runs inside the test's runtime: clean up on a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let Ok(executor) = MssqlExecutor::connect(config).await else {
                    return;
                };
                for sql in batches {
                    if let Err(e) = executor.batch_execute_raw(&sql).await {
                        eprintln!("cleanup {sql:?} failed: {e}");
                    }
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn mssql_table_columns_resolve_like_unqualified_queries() {
    let Some(config) = test_config() else { return };
    let executor = MssqlExecutor::connect(config.clone())
        .await
        .expect("connect");
    let schema = format!("erp_l_{}", &Uuid::new_v4().simple().to_string()[..12]);
    let name = table("cat");
    let _cleanup = CleanupSql {
        config,
        batches: vec![
            format!("DROP TABLE IF EXISTS {schema}.{name}"),
            format!("DROP TABLE IF EXISTS dbo.{name}"),
            format!("DROP SCHEMA IF EXISTS {schema}"),
        ],
    };
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
