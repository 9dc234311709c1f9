//! Legacy -> ERP sync: complete, idempotent, incremental, and whole after a kill.

mod common;

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use erp_core::{
    Backend,
    sql::{Database, Executor, Row, Scope, Statement},
};
use erp_legacy::{
    LegacyMapping, SqlLegacyRepository,
    sync::{LegacySync, migrate_target},
};

/// Adds `n` clearance records, in runs of 7 sharing one `updated_at`.
fn more_clearance_sql(n: usize, sqlite: bool) -> String {
    (0..n)
        .map(|i| {
            let ts = if sqlite {
                format!("'2026-02-{:02}T00:00:00.000000Z'", 1 + i / 7)
            } else {
                format!("'2026-02-{:02}T00:00:00Z'", 1 + i / 7)
            };
            let value = if sqlite { format!("'{}.0100'", 100 + i) } else { format!("{}.0100", 100 + i) };
            format!(
                "INSERT INTO clearance_records (clearance_no, client_code, declaration_date, hs_code, customs_value, currency, duty_amount, status, updated_at) \
                 VALUES ('GEN-{i:04}', 'C001', '2026-02-01', '8471.30', {value}, 'HKD', {value}, 'SUBMITTED', {ts});"
            )
        })
        .collect()
}

async fn count(db: &Database, table: &str) -> i64 {
    let q = sea_query::Query::select()
        .expr_as(
            sea_query::Func::count(sea_query::Expr::col(sea_query::Asterisk)),
            sea_query::Alias::new("n"),
        )
        .from(sea_query::Alias::new(table))
        .to_owned();
    db.fetch_all(Scope::Global, &q.into()).await.unwrap()[0]
        .get::<i64>("n")
        .unwrap()
}

async fn raw(db: &Database, sql: &str) {
    match db {
        Database::Postgres(e) => e.batch_execute_raw(sql).await.unwrap(),
        Database::Sqlite(e) => e.batch_execute_raw(sql).await.unwrap(),
        _ => unreachable!(),
    }
}

/// A target that dies on its `fail_at`-th batch, like a process killed mid-sync.
#[derive(Debug)]
struct Killed {
    inner: Database,
    fail_at: usize,
    batches: AtomicUsize,
}

#[async_trait]
impl Executor for Killed {
    fn backend(&self) -> Backend {
        self.inner.backend()
    }
    async fn fetch_all(&self, scope: Scope, s: &Statement) -> erp_core::Result<Vec<Row>> {
        self.inner.fetch_all(scope, s).await
    }
    async fn execute(&self, scope: Scope, s: &Statement) -> erp_core::Result<u64> {
        self.inner.execute(scope, s).await
    }
    async fn execute_batch(&self, scope: Scope, s: &[Statement]) -> erp_core::Result<Vec<u64>> {
        if self.batches.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(erp_core::Error::unavailable(
                Backend::Postgres,
                "killed mid-batch",
            ));
        }
        self.inner.execute_batch(scope, s).await
    }
    async fn ping(&self) -> erp_core::Result<Duration> {
        self.inner.ping().await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_sync_is_complete_idempotent_and_incremental() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    migrate_target(&target).await.unwrap();
    let repo = SqlLegacyRepository::new(source.clone(), LegacyMapping::default());
    let sync = LegacySync::new(repo, target.clone())
        .unwrap()
        .with_batch_size(10);

    let first = sync.run().await.unwrap();
    assert_eq!(first.rows(), 5 + 39 + 3);
    assert_eq!(
        first.tables[1].batches, 4,
        "39 clearance rows in batches of 10"
    );
    assert_eq!(count(&target, "legacy_clients").await, 5);
    assert_eq!(count(&target, "legacy_clearance_records").await, 39);
    assert_eq!(count(&target, "legacy_shipments").await, 3);

    let second = sync.run().await.unwrap();
    assert_eq!(second.rows(), 0, "nothing changed, nothing copied");

    raw(&source, "UPDATE clients SET client_name = 'Acme Holdings', updated_at = '2026-06-01T00:00:00Z' WHERE client_code = 'C001'").await;
    let third = sync.run().await.unwrap();
    assert_eq!(third.rows(), 1);
    let q = sea_query::Query::select()
        .column(sea_query::Alias::new("client_name"))
        .from(sea_query::Alias::new("legacy_clients"))
        .and_where(sea_query::ExprTrait::eq(
            sea_query::Expr::col(sea_query::Alias::new("client_code")),
            "C001",
        ))
        .to_owned();
    let name: String = target.fetch_all(Scope::Global, &q.into()).await.unwrap()[0]
        .get("client_name")
        .unwrap();
    assert_eq!(name, "Acme Holdings");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_sync_killed_mid_batch_resumes_without_loss_or_duplicates() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    migrate_target(&target).await.unwrap();
    let repo = || SqlLegacyRepository::new(source.clone(), LegacyMapping::default());
    // Clients take batch 1; clearance batches are 2..=5: die in the middle of them.
    let killed = Killed {
        inner: target.clone(),
        fail_at: 3,
        batches: AtomicUsize::new(0),
    };
    let err = LegacySync::new(repo(), killed)
        .unwrap()
        .with_batch_size(10)
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unavailable"), "{err}");
    assert_eq!(
        count(&target, "legacy_clearance_records").await,
        10,
        "only committed batches are there"
    );

    let resumed = LegacySync::new(repo(), target.clone())
        .unwrap()
        .with_batch_size(10)
        .run()
        .await
        .unwrap();
    assert_eq!(
        resumed.tables[1].rows, 29,
        "resumed after the last committed batch"
    );
    assert_eq!(count(&target, "legacy_clients").await, 5);
    assert_eq!(
        count(&target, "legacy_clearance_records").await,
        39,
        "no row lost, none doubled"
    );
    assert_eq!(count(&target, "legacy_shipments").await, 3);
    // Every source row is in the copy with its exact value.
    let q = "SELECT count(*)::bigint AS n FROM legacy_clearance_records t WHERE t.customs_value = 100.0100 AND t.clearance_no = 'GEN-0000'";
    let Database::Postgres(pg) = &target else {
        unreachable!()
    };
    assert_eq!(
        pg.query_raw(q).await.unwrap()[0].get::<i64>("n").unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_sync_into_sqlite() {
    let (source, _s) = common::sqlite().await;
    raw(&source, &more_clearance_sql(12, true)).await;
    let (target, _t) = common::sqlite_empty().await;
    migrate_target(&target).await.unwrap();
    let sync = LegacySync::new(
        SqlLegacyRepository::new(source, LegacyMapping::default()),
        target.clone(),
    )
    .unwrap()
    .with_batch_size(5);
    assert_eq!(sync.run().await.unwrap().rows(), 5 + 16 + 3);
    assert_eq!(sync.run().await.unwrap().rows(), 0);
    assert_eq!(count(&target, "legacy_clearance_records").await, 16);
}
