//! `Executor::upsert_rows`: binary COPY and one merge on PostgreSQL, multi-row upserts
//! on SQLite; either way the rows and the statements after them commit together.

mod common;

use chrono::{TimeZone, Utc};
use erp_core::{
    Error, TenantId,
    sql::{Database, Executor, Scope, Statement, UpsertRows},
};
use rust_decimal::Decimal;
use sea_query::{Alias, Expr, ExprTrait, Query, Value};

const PG_TABLES: &str = "
    CREATE TABLE copied (k TEXT PRIMARY KEY, n BIGINT NOT NULL, small INT, amount NUMERIC(19,4) NOT NULL,
                         at TIMESTAMPTZ NOT NULL, day DATE, note TEXT, flag BOOLEAN NOT NULL);
    CREATE TABLE done (what TEXT PRIMARY KEY, tenant TEXT);";

const LITE_TABLES: &str = "
    CREATE TABLE copied (k TEXT PRIMARY KEY, n INTEGER NOT NULL, small INTEGER, amount TEXT NOT NULL,
                         at TEXT NOT NULL, day TEXT, note TEXT, flag INTEGER NOT NULL);
    CREATE TABLE done (what TEXT PRIMARY KEY, tenant TEXT);";

const COLUMNS: [&str; 8] = ["k", "n", "small", "amount", "at", "day", "note", "flag"];

fn row(i: i64, note: Option<&str>) -> Vec<Value> {
    vec![
        format!("k{i:06}").into(),
        i.into(),
        // An i64 into an INT column: integers go into any integer column they fit.
        Value::BigInt(Some(i % 1000)),
        Decimal::new(i * 10_001, 4).into(),
        Utc.timestamp_opt(1_700_000_000 + i, 123_000)
            .unwrap()
            .into(),
        Value::ChronoDate(None),
        note.map(str::to_owned).into(),
        (i % 2 == 0).into(),
    ]
}

fn batch(range: std::ops::Range<i64>, note: Option<&str>) -> UpsertRows {
    let mut rows = UpsertRows::new("copied", "k", COLUMNS).unwrap();
    for i in range {
        rows.push(row(i, note)).unwrap();
    }
    rows
}

/// A statement to run in the batch's transaction: records `what` (and, on PostgreSQL,
/// the tenant the transaction runs for).
fn done(what: &str, postgres: bool) -> Statement {
    let tenant = if postgres {
        Expr::cust("current_setting('app.current_tenant_id', true)")
    } else {
        Expr::val(Value::String(None))
    };
    Query::insert()
        .into_table(Alias::new("done"))
        .columns([Alias::new("what"), Alias::new("tenant")])
        .values([what.into(), tenant])
        .unwrap()
        .to_owned()
        .into()
}

async fn count(db: &Database, table: &str, filter: Option<(&str, &str)>) -> i64 {
    let mut q = Query::select()
        .expr_as(Expr::col(sea_query::Asterisk).count(), Alias::new("n"))
        .from(Alias::new(table))
        .to_owned();
    if let Some((col, v)) = filter {
        q.and_where(Expr::col(Alias::new(col)).eq(v));
    }
    db.fetch_all(Scope::Global, &q.into()).await.unwrap()[0]
        .get::<i64>("n")
        .unwrap()
}

async fn rows_and_statements_commit_together(db: &Database, postgres: bool) {
    // 30 000 rows: the COPY stream spans several chunks, the generic path several
    // statements.
    let first = batch(0..30_000, None);
    let written = db
        .upsert_rows(Scope::Global, &first, &[done("first", postgres)])
        .await
        .unwrap();
    assert_eq!(written, 30_000);
    assert_eq!(count(db, "copied", None).await, 30_000);
    assert_eq!(count(db, "done", Some(("what", "first"))).await, 1);

    // Rows with a key already there are written over; new ones are added.
    let tenant = TenantId::new();
    let second = batch(29_990..30_010, Some("again 再"));
    db.upsert_rows(Scope::Tenant(tenant), &second, &[done("second", postgres)])
        .await
        .unwrap();
    assert_eq!(count(db, "copied", None).await, 30_010);
    assert_eq!(count(db, "copied", Some(("note", "again 再"))).await, 20);
    let q = Query::select()
        .columns([Alias::new("n"), Alias::new("amount"), Alias::new("at")])
        .from(Alias::new("copied"))
        .and_where(Expr::col(Alias::new("k")).eq("k029999"))
        .to_owned();
    let r = &db.fetch_all(Scope::Global, &q.into()).await.unwrap()[0];
    assert_eq!(r.get::<i64>("n").unwrap(), 29_999);
    assert_eq!(
        r.get::<Decimal>("amount").unwrap(),
        Decimal::new(29_999 * 10_001, 4),
        "exact"
    );
    assert_eq!(
        r.get::<chrono::DateTime<Utc>>("at").unwrap(),
        Utc.timestamp_opt(1_700_000_000 + 29_999, 123_000).unwrap()
    );
    if postgres {
        let q = Query::select()
            .column(Alias::new("tenant"))
            .from(Alias::new("done"))
            .and_where(Expr::col(Alias::new("what")).eq("second"))
            .to_owned();
        let seen: String = db.fetch_all(Scope::Global, &q.into()).await.unwrap()[0]
            .get("tenant")
            .unwrap();
        assert_eq!(
            seen,
            tenant.to_string(),
            "the batch ran in the tenant's scope"
        );
    }

    // A statement after the rows fails (its key is taken): the rows are not written.
    let third = batch(50_000..50_010, None);
    let err = db
        .upsert_rows(Scope::Global, &third, &[done("first", postgres)])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(
        count(db, "copied", None).await,
        30_010,
        "nothing of it kept"
    );

    // Nothing to write: the statements still run.
    let empty = UpsertRows::new("copied", "k", COLUMNS).unwrap();
    assert_eq!(
        db.upsert_rows(Scope::Global, &empty, &[done("empty", postgres)])
            .await
            .unwrap(),
        0
    );
    assert_eq!(count(db, "done", Some(("what", "empty"))).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_upsert_rows_copies_and_merges_in_one_transaction() {
    let (exec, _guard) = common::postgres().await;
    exec.batch_execute_raw(PG_TABLES).await.unwrap();
    let db = Database::Postgres(exec);
    rows_and_statements_commit_together(&db, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_upsert_rows_refuses_a_value_its_column_cannot_hold() {
    let (exec, _guard) = common::postgres().await;
    exec.batch_execute_raw(PG_TABLES).await.unwrap();
    let db = Database::Postgres(exec);
    let mut rows = UpsertRows::new("copied", "k", COLUMNS).unwrap();
    let mut bad = row(1, None);
    bad[1] = "not a number".into();
    rows.push(row(0, None)).unwrap();
    rows.push(bad).unwrap();
    let err = db.upsert_rows(Scope::Global, &rows, &[]).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "n"),
        "names the column: {err:?}"
    );
    let mut small = UpsertRows::new("copied", "k", COLUMNS).unwrap();
    let mut wide = row(2, None);
    wide[2] = Value::BigInt(Some(i64::from(i32::MAX) + 1));
    small.push(wide).unwrap();
    let err = db
        .upsert_rows(Scope::Global, &small, &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    // The pool gave up those connections and works on.
    db.upsert_rows(Scope::Global, &batch(0..3, None), &[])
        .await
        .unwrap();
    assert_eq!(count(&db, "copied", None).await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_upsert_rows_writes_multi_row_upserts_in_one_transaction() {
    let (db, _dir) = common::sqlite().await;
    let Database::Sqlite(lite) = &db else {
        unreachable!()
    };
    lite.batch_execute_raw(LITE_TABLES).await.unwrap();
    rows_and_statements_commit_together(&db, false).await;
}
