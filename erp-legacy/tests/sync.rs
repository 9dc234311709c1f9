//! Legacy -> ERP sync: complete, idempotent, incremental, and whole after a kill, from
//! PostgreSQL, SQLite and (with `MSSQL_TEST_URL`) a T-SQL server, including runs of
//! rows sharing one timestamp across batch boundaries.

mod common;

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use erp_core::{
    Backend,
    sql::{Database, Executor, Row, Scope, Statement, UpsertRows},
};
use erp_legacy::{
    ChangeDetection, ChangeDetections, LegacyMapping, SqlLegacyRepository,
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

/// Adds `n` clearance records all changed at one instant, as a bulk import leaves them:
/// batches start and end inside the run.
fn bulk_import_sql(n: usize, sqlite: bool) -> String {
    let ts = if sqlite {
        "'2026-03-01T00:00:00.000000Z'"
    } else {
        "'2026-03-01T00:00:00Z'"
    };
    (0..n)
        .map(|i| {
            let value = if sqlite { format!("'{}.2500'", i) } else { format!("{}.2500", i) };
            format!(
                "INSERT INTO clearance_records (clearance_no, client_code, declaration_date, hs_code, customs_value, currency, duty_amount, status, updated_at) \
                 VALUES ('BULK-{i:04}', 'C002', '2026-02-01', '0901.21', {value}, 'HKD', {value}, 'SUBMITTED', {ts});"
            )
        })
        .collect()
}

/// The ids a table holds, in order.
async fn ids(db: &Database, table: &str) -> Vec<i64> {
    let q = sea_query::Query::select()
        .column(sea_query::Alias::new("clearance_id"))
        .from(sea_query::Alias::new(table))
        .order_by(sea_query::Alias::new("clearance_id"), sea_query::Order::Asc)
        .to_owned();
    db.fetch_all(Scope::Global, &q.into())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64>("clearance_id").unwrap())
        .collect()
}

/// Bulk-imported rows across batch boundaries: all copied once; after three of them
/// change, exactly those three are copied again.
async fn bulk_import_across_batches(source: &Database, target: &Database, sqlite: bool) {
    raw(source, &bulk_import_sql(45, sqlite)).await;
    migrate_target(target).await.unwrap();
    let sync = LegacySync::new(
        SqlLegacyRepository::new(source.clone(), LegacyMapping::default()),
        target.clone(),
    )
    .unwrap()
    .with_batch_size(10);
    let first = sync.run().await.unwrap();
    assert_eq!(first.tables[1].rows, 4 + 45);
    assert_eq!(first.tables[1].batches, 5);
    assert_eq!(
        ids(target, "legacy_clearance_records").await,
        ids(source, "clearance_records").await,
        "every record once"
    );
    assert_eq!(sync.run().await.unwrap().rows(), 0);
    let ts = if sqlite {
        "'2026-04-01T00:00:00.000000Z'"
    } else {
        "'2026-04-01T00:00:00Z'"
    };
    raw(
        source,
        &format!(
            "UPDATE clearance_records SET notes = 'changed', updated_at = {ts} \
             WHERE clearance_no IN ('BULK-0007', 'BULK-0021', 'BULK-0039')"
        ),
    )
    .await;
    let again = sync.run().await.unwrap();
    assert_eq!(again.rows(), 3);
    let q = sea_query::Query::select()
        .expr_as(
            sea_query::Func::count(sea_query::Expr::col(sea_query::Asterisk)),
            sea_query::Alias::new("n"),
        )
        .from(sea_query::Alias::new("legacy_clearance_records"))
        .and_where(sea_query::ExprTrait::eq(
            sea_query::Expr::col(sea_query::Alias::new("notes")),
            "changed",
        ))
        .to_owned();
    let changed: i64 = target.fetch_all(Scope::Global, &q.into()).await.unwrap()[0]
        .get("n")
        .unwrap();
    assert_eq!(changed, 3);
    assert_eq!(count(target, "legacy_clearance_records").await, 49);
}

/// A target that dies on its `fail_at`-th batch, like a process killed mid-sync: before
/// the batch's transaction commits, so neither its rows nor its checkpoint are written.
///
/// It also counts the rows it was given to write: a target that never dies
/// ([`Killed::counting`]) measures what a run wrote.
#[derive(Debug)]
struct Killed {
    inner: Database,
    fail_at: usize,
    batches: AtomicUsize,
    written: std::sync::Arc<AtomicUsize>,
}

impl Killed {
    fn new(inner: &Database, fail_at: usize) -> Self {
        Self {
            inner: inner.clone(),
            fail_at,
            batches: AtomicUsize::new(0),
            written: std::sync::Arc::default(),
        }
    }

    fn counting(inner: &Database) -> Self {
        Self::new(inner, usize::MAX)
    }

    fn dies_now(&self) -> bool {
        self.batches.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at
    }
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
        if self.dies_now() {
            return Err(erp_core::Error::unavailable(
                Backend::Postgres,
                "killed mid-batch",
            ));
        }
        self.inner.execute_batch(scope, s).await
    }
    async fn upsert_rows(
        &self,
        scope: Scope,
        rows: &UpsertRows,
        then: &[Statement],
    ) -> erp_core::Result<u64> {
        if self.dies_now() {
            return Err(erp_core::Error::unavailable(
                Backend::Postgres,
                "killed mid-batch",
            ));
        }
        let n = self.inner.upsert_rows(scope, rows, then).await?;
        self.written.fetch_add(rows.len(), Ordering::SeqCst);
        Ok(n)
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
    // Clients take transaction 1 and their deletes pass 2; clearance batches are
    // 3..=6: die in the middle of them.
    let killed = Killed::new(&target, 4);
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

/// The kill comes inside the transaction, after the COPY and the merge ran: the
/// checkpoint update fails, and the batch's rows go with it.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_sync_failing_at_the_checkpoint_keeps_none_of_the_batch() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    migrate_target(&target).await.unwrap();
    raw(
        &target,
        "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.table_name = 'legacy_clearance_records' AND OLD.rows_synced >= 10 THEN \
             RAISE EXCEPTION 'killed at the checkpoint'; \
           END IF; RETURN NEW; END $$; \
         CREATE TRIGGER die BEFORE UPDATE ON legacy_sync_checkpoints \
           FOR EACH ROW EXECUTE FUNCTION die();",
    )
    .await;
    let sync = || {
        LegacySync::new(
            SqlLegacyRepository::new(source.clone(), LegacyMapping::default()),
            target.clone(),
        )
        .unwrap()
        .with_batch_size(10)
    };
    assert!(sync().run().await.is_err());
    assert_eq!(
        count(&target, "legacy_clearance_records").await,
        10,
        "the second batch's rows were rolled back with its checkpoint"
    );
    raw(&target, "DROP TRIGGER die ON legacy_sync_checkpoints").await;
    let resumed = sync().run().await.unwrap();
    assert_eq!(resumed.tables[1].rows, 29);
    assert_eq!(
        ids(&target, "legacy_clearance_records").await,
        ids(&source, "clearance_records").await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_bulk_imported_rows_across_batches() {
    let (source, _s) = common::postgres().await;
    let (target, _t) = common::postgres_empty().await;
    bulk_import_across_batches(&source, &target, false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_bulk_imported_rows_across_batches() {
    let (source, _s) = common::sqlite().await;
    let (target, _t) = common::sqlite_empty().await;
    bulk_import_across_batches(&source, &target, true).await;
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

/// The sample schema and data on the T-SQL server of `MSSQL_TEST_URL`, in a schema of
/// its own that is dropped when the test ends, also when it fails.
struct MssqlSource {
    exec: erp_legacy::mssql::MssqlExecutor,
    schema: String,
}

impl MssqlSource {
    /// `None` (after saying so) without `MSSQL_TEST_URL`; with `ERP_REQUIRE_MSSQL=1` a
    /// missing server fails the test instead.
    async fn new() -> Option<Self> {
        let exec = common::mssql::connect(common::mssql::config()?).await;
        let schema = format!("erp_s_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        // CREATE SCHEMA must be alone in its batch.
        exec.batch_execute_raw(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let source = Self { exec, schema };
        let qualify = |sql: &str| sql.replace("dbo.", &format!("{}.", source.schema));
        source
            .exec
            .batch_execute_raw(&qualify(include_str!("../sql/mssql/01_schema.sql")))
            .await
            .unwrap();
        source
            .exec
            .batch_execute_raw(&qualify(include_str!("../sql/mssql/02_sample_data.sql")))
            .await
            .unwrap();
        Some(source)
    }

    fn repo(&self) -> SqlLegacyRepository<erp_legacy::mssql::MssqlExecutor> {
        let mapping = LegacyMapping {
            schema: Some(self.schema.clone()),
            ..LegacyMapping::default()
        };
        SqlLegacyRepository::new(self.exec.clone(), mapping)
    }

    /// Runs T-SQL with `{s}` standing for the schema. Literals only: stock Babelfish
    /// refuses NULL parameters.
    async fn run(&self, sql: &str) {
        self.exec
            .batch_execute_raw(&sql.replace("{s}", &self.schema))
            .await
            .unwrap();
    }

    async fn clearance_ids(&self) -> Vec<i64> {
        self.exec
            .query_raw(
                &format!(
                    "SELECT CAST(clearance_id AS BIGINT) AS id FROM {}.clearance_records ORDER BY clearance_id",
                    self.schema
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<i64>("id").unwrap())
            .collect()
    }

    /// 45 clearance records and 25 clients changed at one instant (a bulk import), so
    /// batches of 10 start and end inside the runs.
    async fn bulk_import(&self) {
        let digits = "(VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9))";
        self.run(&format!(
            "INSERT INTO {{s}}.clearance_records (clearance_no, client_code, declaration_date, hs_code, \
                 customs_value, currency, duty_amount, status, notes, updated_at)
             SELECT N'BULK-' + CAST(n AS NVARCHAR(10)), N'C002', '2026-02-01', N'0901.21',
                    100.25 + n, N'HKD', 1.5, N'SUBMITTED', NULL, '2026-03-01T00:00:00'
             FROM (SELECT a.n + 10 * b.n AS n FROM {digits} a(n) CROSS JOIN {digits} b(n)) g
             WHERE n < 45;
             INSERT INTO {{s}}.clients (client_code, client_name, business_reg_no, contact_name, \
                 contact_phone, contact_email, address, currency, is_active, updated_at)
             SELECT N'S' + RIGHT(N'00' + CAST(n AS NVARCHAR(10)), 3), N'批量 ' + CAST(n AS NVARCHAR(10)),
                    NULL, NULL, NULL, NULL, NULL, N'HKD', 1, '2026-03-01T00:00:00'
             FROM (SELECT a.n + 10 * b.n AS n FROM {digits} a(n) CROSS JOIN {digits} b(n)) g
             WHERE n < 25;"
        ))
        .await;
    }
}

impl Drop for MssqlSource {
    fn drop(&mut self) {
        let exec = self.exec.clone();
        let schema = self.schema.clone();
        // Drop cannot await, and the test's runtime may be unwinding: a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for table in ["shipments", "clearance_records", "clients"] {
                    let _ = exec
                        .batch_execute_raw(&format!("DROP TABLE IF EXISTS {schema}.{table}"))
                        .await;
                }
                let _ = exec
                    .batch_execute_raw(&format!("DROP SCHEMA {schema}"))
                    .await;
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mssql_sync_into_postgres_is_complete_idempotent_and_incremental() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    migrate_target(&target).await.unwrap();
    let sync = LegacySync::new(source.repo(), target.clone())
        .unwrap()
        .with_batch_size(10);

    let first = sync.run().await.unwrap();
    assert_eq!(first.tables[0].rows, 5 + 25);
    assert_eq!(first.tables[1].rows, 4 + 45);
    assert_eq!(first.tables[1].batches, 5);
    assert_eq!(first.tables[2].rows, 3);
    assert_eq!(
        ids(&target, "legacy_clearance_records").await,
        source.clearance_ids().await,
        "every record once"
    );
    let Database::Postgres(pg) = &target else {
        unreachable!()
    };
    let exact = pg
        .query_raw(
            "SELECT count(*)::bigint AS n FROM legacy_clearance_records \
             WHERE clearance_no = 'CL-2026-0003' AND customs_value = 1500000.0000 AND notes = '茶葉 檢查'",
        )
        .await
        .unwrap();
    assert_eq!(
        exact[0].get::<i64>("n").unwrap(),
        1,
        "values copied exactly"
    );

    assert_eq!(
        sync.run().await.unwrap().rows(),
        0,
        "nothing changed, nothing copied"
    );

    source
        .run(
            "UPDATE {s}.clearance_records SET notes = N'changed', updated_at = '2026-04-01T00:00:00'
               WHERE clearance_no IN (N'BULK-7', N'BULK-21', N'BULK-39');
             UPDATE {s}.clients SET client_name = N'Acme Holdings', updated_at = '2026-04-01T00:00:00'
               WHERE client_code = N'C001';",
        )
        .await;
    let again = sync.run().await.unwrap();
    assert_eq!((again.tables[0].rows, again.tables[1].rows), (1, 3));
    let changed = pg
        .query_raw(
            "SELECT (SELECT count(*) FROM legacy_clearance_records WHERE notes = 'changed')::bigint AS n, \
                    (SELECT client_name FROM legacy_clients WHERE client_code = 'C001') AS name",
        )
        .await
        .unwrap();
    assert_eq!(changed[0].get::<i64>("n").unwrap(), 3);
    assert_eq!(changed[0].get::<String>("name").unwrap(), "Acme Holdings");
    assert_eq!(count(&target, "legacy_clients").await, 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn mssql_sync_killed_mid_batch_resumes_without_loss_or_duplicates() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    migrate_target(&target).await.unwrap();
    // Clients take batches 1..=3 (30 rows) and their deletes pass 4..=7 (the last one
    // empty); clearance batches are 8..=12: die in them.
    let killed = Killed::new(&target, 10);
    let err = LegacySync::new(source.repo(), killed)
        .unwrap()
        .with_batch_size(10)
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unavailable"), "{err}");
    assert_eq!(count(&target, "legacy_clearance_records").await, 20);

    let resumed = LegacySync::new(source.repo(), target.clone())
        .unwrap()
        .with_batch_size(10)
        .run()
        .await
        .unwrap();
    assert_eq!(
        resumed.tables[1].rows,
        49 - 20,
        "from the last committed batch"
    );
    assert_eq!(
        ids(&target, "legacy_clearance_records").await,
        source.clearance_ids().await,
        "no record lost, none doubled"
    );
}

/// A legacy database of any backend, for the deletes tests: statements with `{s}.`
/// standing for the T-SQL test schema (nothing elsewhere).
enum Legacy<'a> {
    Db(&'a Database),
    Mssql(&'a MssqlSource),
}

impl Legacy<'_> {
    async fn run(&self, sql: &str) {
        match self {
            Legacy::Db(db) => raw(db, &sql.replace("{s}.", "")).await,
            Legacy::Mssql(m) => m.run(sql).await,
        }
    }

    async fn clearance_ids(&self) -> Vec<i64> {
        match self {
            Legacy::Db(db) => ids(db, "clearance_records").await,
            Legacy::Mssql(m) => m.clearance_ids().await,
        }
    }
}

/// The keys of `table`'s rows marked deleted, in order.
async fn marked(target: &Database, table: &str, key: &str) -> Vec<String> {
    let q = sea_query::Query::select()
        .column(sea_query::Alias::new(key))
        .from(sea_query::Alias::new(table))
        .and_where(sea_query::ExprTrait::is_not_null(sea_query::Expr::col(
            sea_query::Alias::new("deleted_at"),
        )))
        .order_by(sea_query::Alias::new(key), sea_query::Order::Asc)
        .to_owned();
    target
        .fetch_all(Scope::Global, &q.into())
        .await
        .unwrap()
        .iter()
        .map(|r| match r.get::<i64>(key) {
            Ok(id) => id.to_string(),
            Err(_) => r.get::<String>(key).unwrap(),
        })
        .collect()
}

/// The ids of `before` no longer in `now`, as [`marked`] lists them.
fn gone(before: &[i64], now: &[i64]) -> Vec<String> {
    let mut ids: Vec<i64> = before
        .iter()
        .filter(|i| !now.contains(i))
        .copied()
        .collect();
    ids.sort_unstable();
    ids.iter().map(i64::to_string).collect()
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A mapping that removes deleted shipments and marks the rest (the default).
fn removing_shipments(schema: Option<String>) -> LegacyMapping {
    LegacyMapping {
        schema,
        deletes: erp_legacy::DeletePolicies {
            shipments: erp_legacy::OnDelete::Remove,
            ..Default::default()
        },
        ..LegacyMapping::default()
    }
}

/// Rows deleted in the legacy database are marked (clients, clearance) or removed
/// (shipments, as the mapping says), exactly those; a second run finds nothing more;
/// a row re-created in the legacy database is live again in the copy.
async fn deletes_are_reconciled<S: Executor + Clone + 'static>(
    legacy: Legacy<'_>,
    repo: SqlLegacyRepository<S>,
    target: &Database,
    clearance_gone: &[&str],
    revive_c005: &str,
) {
    migrate_target(target).await.unwrap();
    let sync = LegacySync::new(repo, target.clone())
        .unwrap()
        .with_batch_size(10);
    let first = sync.run().await.unwrap();
    assert_eq!(first.deleted(), 0, "nothing deleted yet");
    let before = ids(target, "legacy_clearance_records").await;
    let clients = count(target, "legacy_clients").await;

    legacy
        .run(&format!(
            "DELETE FROM {{s}}.clearance_records WHERE clearance_no IN ({});
             DELETE FROM {{s}}.clients WHERE client_code IN ('C004', 'C005');
             DELETE FROM {{s}}.shipments WHERE bl_no = 'BL-PUS-0003';",
            quoted(clearance_gone)
        ))
        .await;
    let second = sync.run().await.unwrap();
    assert_eq!(second.rows(), 0, "deletes copy nothing");
    let deleted: Vec<u64> = second.tables.iter().map(|t| t.deleted).collect();
    assert_eq!(deleted, [2, clearance_gone.len() as u64, 1]);
    let now = legacy.clearance_ids().await;
    assert_eq!(
        marked(target, "legacy_clearance_records", "clearance_id").await,
        gone(&before, &now),
        "exactly the deleted records are marked"
    );
    assert_eq!(
        ids(target, "legacy_clearance_records").await,
        before,
        "marked, not removed"
    );
    assert_eq!(
        marked(target, "legacy_clients", "client_code").await,
        ["C004", "C005"]
    );
    assert_eq!(count(target, "legacy_clients").await, clients);
    assert_eq!(count(target, "legacy_shipments").await, 2, "removed");
    assert_eq!(
        marked(target, "legacy_shipments", "shipment_id").await,
        Vec::<String>::new()
    );

    let third = sync.run().await.unwrap();
    assert_eq!((third.rows(), third.deleted()), (0, 0), "nothing new");

    legacy.run(revive_c005).await;
    let fourth = sync.run().await.unwrap();
    assert_eq!((fourth.tables[0].rows, fourth.deleted()), (1, 0));
    assert_eq!(
        marked(target, "legacy_clients", "client_code").await,
        ["C004"]
    );
    assert_eq!(
        count(target, "legacy_sync_reconcile").await,
        0,
        "no pass open"
    );
}

/// The target dies inside the deletes pass of the clearance records, on the
/// `fail_at`-th transaction of the run: only the batches before it are marked; the next
/// run resumes after them and marks the rest, nothing else.
async fn killed_deletes_pass_resumes<S: Executor + Clone + 'static>(
    legacy: Legacy<'_>,
    repo: impl Fn() -> SqlLegacyRepository<S>,
    target: &Database,
    clearance_gone: &[&str],
    fail_at: usize,
) {
    migrate_target(target).await.unwrap();
    let sync = |t| LegacySync::new(repo(), t).unwrap().with_batch_size(10);
    sync(target.clone()).run().await.unwrap();
    let before = ids(target, "legacy_clearance_records").await;
    legacy
        .run(&format!(
            "DELETE FROM {{s}}.clearance_records WHERE clearance_no IN ({});",
            quoted(clearance_gone)
        ))
        .await;
    let now = legacy.clearance_ids().await;

    let killed = Killed::new(target, fail_at);
    let err = sync_killed(LegacySync::new(repo(), killed).unwrap().with_batch_size(10)).await;
    assert!(err.contains("unavailable"), "{err}");
    let early = gone(&before[..20], &now);
    assert!(!early.is_empty() && early.len() < clearance_gone.len());
    assert_eq!(
        marked(target, "legacy_clearance_records", "clearance_id").await,
        early,
        "the two committed batches' deletes, nothing more"
    );
    assert_eq!(
        count(target, "legacy_sync_reconcile").await,
        1,
        "a pass open"
    );

    let resumed = sync(target.clone()).run().await.unwrap();
    assert_eq!(
        resumed.tables[1].deleted as usize,
        clearance_gone.len() - early.len(),
        "resumed after the last committed batch"
    );
    assert_eq!(
        marked(target, "legacy_clearance_records", "clearance_id").await,
        gone(&before, &now),
        "every deleted record marked, no other"
    );
    assert_eq!(count(target, "legacy_sync_reconcile").await, 0);
}

async fn sync_killed<S: Executor + Clone + 'static>(sync: LegacySync<S, Killed>) -> String {
    sync.run().await.unwrap_err().to_string()
}

const GEN_GONE: &[&str] = &["CL-2026-0002", "GEN-0012", "GEN-0020", "GEN-0033"];

#[tokio::test(flavor = "multi_thread")]
async fn postgres_deleted_rows_are_marked_or_removed_and_revived() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    deletes_are_reconciled(
        Legacy::Db(&source),
        SqlLegacyRepository::new(source.clone(), removing_shipments(None)),
        &target,
        GEN_GONE,
        "INSERT INTO clients (client_code, client_name, currency, is_active, updated_at) \
         VALUES ('C005', 'O''Brien & Sons', 'EUR', TRUE, '2026-06-01T00:00:00Z')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_deleted_rows_are_marked_or_removed_and_revived() {
    let (source, _s) = common::sqlite().await;
    raw(&source, &more_clearance_sql(35, true)).await;
    let (target, _t) = common::sqlite_empty().await;
    deletes_are_reconciled(
        Legacy::Db(&source),
        SqlLegacyRepository::new(source.clone(), removing_shipments(None)),
        &target,
        GEN_GONE,
        "INSERT INTO clients (client_code, client_name, currency, is_active, updated_at) \
         VALUES ('C005', 'O''Brien & Sons', 'EUR', 1, '2026-06-01T00:00:00.000000Z')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_deletes_pass_killed_midway_resumes() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    // Clients' pass is transaction 1 (5 keys); clearance's are 2..=5 (39 keys): die at
    // the third.
    killed_deletes_pass_resumes(
        Legacy::Db(&source),
        || SqlLegacyRepository::new(source.clone(), LegacyMapping::default()),
        &target,
        GEN_GONE,
        4,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_deletes_pass_killed_midway_resumes() {
    let (source, _s) = common::sqlite().await;
    raw(&source, &more_clearance_sql(35, true)).await;
    let (target, _t) = common::sqlite_empty().await;
    killed_deletes_pass_resumes(
        Legacy::Db(&source),
        || SqlLegacyRepository::new(source.clone(), LegacyMapping::default()),
        &target,
        GEN_GONE,
        4,
    )
    .await;
}

const BULK_GONE: &[&str] = &["CL-2026-0002", "BULK-12", "BULK-20", "BULK-33"];

#[tokio::test(flavor = "multi_thread")]
async fn mssql_deleted_rows_are_marked_or_removed_and_revived() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    let repo = SqlLegacyRepository::new(
        source.exec.clone(),
        removing_shipments(Some(source.schema.clone())),
    );
    deletes_are_reconciled(
        Legacy::Mssql(&source),
        repo,
        &target,
        BULK_GONE,
        "INSERT INTO {s}.clients (client_code, client_name, currency, is_active, updated_at) \
         VALUES (N'C005', N'O''Brien & Sons', N'EUR', 1, '2026-06-01T00:00:00')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mssql_deletes_pass_killed_midway_resumes() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    // Clients' pass is transactions 1..=4 (30 keys, the last batch empty); clearance's
    // are 5..=9 (49 keys): die at the third.
    killed_deletes_pass_resumes(
        Legacy::Mssql(&source),
        || source.repo(),
        &target,
        BULK_GONE,
        7,
    )
    .await;
}

/// Progress after each committed batch: rows counting up to the legacy table's count
/// on a first load, no total on an incremental run.
async fn progress_is_reported_per_batch<S: Executor + Clone + 'static>(
    legacy: Legacy<'_>,
    repo: SqlLegacyRepository<S>,
    target: &Database,
    clearance_total: u64,
    touch_one: &str,
) {
    use std::sync::{Arc, Mutex};
    migrate_target(target).await.unwrap();
    let seen: Arc<Mutex<Vec<erp_legacy::sync::Progress>>> = Arc::default();
    let log = seen.clone();
    let sync = LegacySync::new(repo, target.clone())
        .unwrap()
        .with_batch_size(10)
        .with_progress(move |p| log.lock().unwrap().push(p));
    let report = sync.run().await.unwrap();
    let events = std::mem::take(&mut *seen.lock().unwrap());
    let clearance: Vec<_> = events
        .iter()
        .filter(|p| p.table == "legacy_clearance_records")
        .collect();
    assert_eq!(clearance.len() as u64, report.tables[1].batches);
    assert!(clearance.iter().all(|p| p.total == Some(clearance_total)));
    assert!(clearance.windows(2).all(|w| w[0].rows < w[1].rows));
    assert_eq!(
        clearance.last().unwrap().rows,
        clearance_total,
        "ends at the total"
    );
    assert_eq!(
        events
            .iter()
            .map(|p| p.table)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "every table"
    );

    legacy.run(touch_one).await;
    sync.run().await.unwrap();
    let events = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0].rows, events[0].total),
        (1, None),
        "incremental: no total"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_progress_is_reported_per_batch() {
    let (source, _s) = common::sqlite().await;
    raw(&source, &more_clearance_sql(35, true)).await;
    let (target, _t) = common::sqlite_empty().await;
    progress_is_reported_per_batch(
        Legacy::Db(&source),
        SqlLegacyRepository::new(source.clone(), LegacyMapping::default()),
        &target,
        39,
        "UPDATE clients SET client_name = 'x', updated_at = '2026-06-01T00:00:00.000000Z' WHERE client_code = 'C001'",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mssql_progress_is_reported_per_batch() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    progress_is_reported_per_batch(
        Legacy::Mssql(&source),
        source.repo(),
        &target,
        49,
        "UPDATE {s}.clients SET client_name = N'x', updated_at = '2026-06-01T00:00:00' WHERE client_code = N'C001'",
    )
    .await;
}

/// A mapping (in `schema`) finding each table's changes as given.
fn detecting(
    schema: Option<String>,
    clients: ChangeDetection,
    clearance: ChangeDetection,
    shipments: ChangeDetection,
) -> LegacyMapping {
    LegacyMapping {
        schema,
        change_detection: ChangeDetections {
            clients,
            clearance,
            shipments,
        },
        ..LegacyMapping::default()
    }
}

fn all_hashed(schema: Option<String>) -> LegacyMapping {
    use ChangeDetection::Hash;
    detecting(schema, Hash, Hash, Hash)
}

/// Every copy's `(key, row_hash, live)` rows in key order: the whole end state of a sync.
async fn end_state(target: &Database) -> Vec<String> {
    let mut state = Vec::new();
    for (table, key) in [
        ("legacy_clients", "client_code"),
        ("legacy_clearance_records", "clearance_id"),
        ("legacy_shipments", "shipment_id"),
    ] {
        let q = sea_query::Query::select()
            .columns([
                sea_query::Alias::new(key),
                sea_query::Alias::new("row_hash"),
                sea_query::Alias::new("deleted_at"),
            ])
            .from(sea_query::Alias::new(table))
            .order_by(sea_query::Alias::new(key), sea_query::Order::Asc)
            .to_owned();
        for r in target.fetch_all(Scope::Global, &q.into()).await.unwrap() {
            let k = match r.get::<i64>(key) {
                Ok(id) => id.to_string(),
                Err(_) => r.get::<String>(key).unwrap(),
            };
            let hash: i64 = r.get("row_hash").unwrap();
            let live = matches!(r.cell("deleted_at").unwrap(), erp_core::sql::Cell::Null);
            state.push(format!("{table} {k} {hash} {live}"));
        }
    }
    state
}

/// The text of `column` in the copy `table`'s row `key = id`.
async fn copied(target: &Database, table: &str, column: &str, key: &str, id: i64) -> String {
    let q = sea_query::Query::select()
        .column(sea_query::Alias::new(column))
        .from(sea_query::Alias::new(table))
        .and_where(sea_query::ExprTrait::eq(
            sea_query::Expr::col(sea_query::Alias::new(key)),
            id,
        ))
        .to_owned();
    target.fetch_all(Scope::Global, &q.into()).await.unwrap()[0]
        .get(column)
        .unwrap()
}

/// Hash mode on a legacy database whose shipments have no `updated_at` at all (dropped
/// by `drop_updated_at`): the start-up check accepts it (and refuses it in the default
/// mode, naming the column); a first run copies everything, a second writes nothing; a
/// value changed without any timestamp is found and only that row written; deletes are
/// marked, and a row that comes back is live again.
async fn hash_mode_finds_changes_without_timestamps<S: Executor + Clone + 'static>(
    legacy: Legacy<'_>,
    repo: impl Fn() -> SqlLegacyRepository<S>,
    target: &Database,
    drop_updated_at: &str,
    revive_c005: &str,
) {
    legacy.run(drop_updated_at).await;
    let r = repo();
    r.mapping().check(r.executor()).await.unwrap();
    let mut watermarked = r.mapping().clone();
    watermarked.change_detection = ChangeDetections::default();
    let err = watermarked
        .check(r.executor())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column shipments.updated_at does not exist"),
        "{err}"
    );

    migrate_target(target).await.unwrap();
    let counting = Killed::counting(target);
    let writes = counting.written.clone();
    let sync = LegacySync::new(repo(), counting)
        .unwrap()
        .with_batch_size(10);
    let written = || writes.load(Ordering::SeqCst);
    let first = sync.run().await.unwrap();
    let clearance = legacy.clearance_ids().await.len() as i64;
    assert_eq!(count(target, "legacy_clearance_records").await, clearance);
    assert_eq!(first.tables[1].rows as i64, clearance);
    assert_eq!(count(target, "legacy_shipments").await, 3);
    assert_eq!(written() as u64, first.rows(), "every row written once");
    assert_eq!(
        count(target, "legacy_sync_cursors").await,
        0,
        "no pass left open"
    );

    let second = sync.run().await.unwrap();
    assert_eq!(second.rows(), 0, "nothing changed");
    assert_eq!(written() as u64, first.rows(), "and nothing written");

    legacy
        .run(
            "UPDATE {s}.clearance_records SET notes = 'seen by hash' WHERE clearance_no = 'CL-2026-0003';
             UPDATE {s}.shipments SET status = 'ARRIVED' WHERE bl_no = 'BL-HKG-0002';",
        )
        .await;
    let third = sync.run().await.unwrap();
    let rows: Vec<u64> = third.tables.iter().map(|t| t.rows).collect();
    assert_eq!(rows, [0, 1, 1], "exactly the two changed rows");
    assert_eq!(written() as u64, first.rows() + 2);
    assert_eq!(
        copied(
            target,
            "legacy_clearance_records",
            "notes",
            "clearance_id",
            3
        )
        .await,
        "seen by hash"
    );
    assert_eq!(
        copied(target, "legacy_shipments", "status", "shipment_id", 2).await,
        "ARRIVED"
    );

    legacy
        .run(
            "DELETE FROM {s}.shipments WHERE bl_no = 'BL-PUS-0003';
             DELETE FROM {s}.clients WHERE client_code = 'C005';",
        )
        .await;
    let fourth = sync.run().await.unwrap();
    assert_eq!((fourth.rows(), fourth.deleted()), (0, 2));
    assert_eq!(
        marked(target, "legacy_shipments", "shipment_id").await,
        ["3"]
    );
    assert_eq!(
        marked(target, "legacy_clients", "client_code").await,
        ["C005"]
    );

    legacy.run(revive_c005).await;
    let fifth = sync.run().await.unwrap();
    assert_eq!(
        (fifth.tables[0].rows, fifth.deleted()),
        (1, 0),
        "C005 is back"
    );
    assert_eq!(
        marked(target, "legacy_clients", "client_code").await,
        Vec::<String>::new()
    );
}

/// A first hash-mode run killed on its `fail_at`-th transaction, inside the clearance
/// pass after `committed` rows: the copy holds those, the pass's cursor is open; the
/// next run writes only the rest, and the end state is the one of a run never killed.
async fn killed_hash_pass_resumes<S: Executor + Clone + 'static>(
    repo: impl Fn() -> SqlLegacyRepository<S>,
    target: &Database,
    untouched: &Database,
    fail_at: usize,
    committed: i64,
) {
    migrate_target(target).await.unwrap();
    migrate_target(untouched).await.unwrap();
    let err = sync_killed(
        LegacySync::new(repo(), Killed::new(target, fail_at))
            .unwrap()
            .with_batch_size(10),
    )
    .await;
    assert!(err.contains("unavailable"), "{err}");
    assert_eq!(count(target, "legacy_clearance_records").await, committed);
    assert_eq!(count(target, "legacy_sync_cursors").await, 1, "a pass open");

    let resumed = LegacySync::new(repo(), target.clone())
        .unwrap()
        .with_batch_size(10)
        .run()
        .await
        .unwrap();
    let once = LegacySync::new(repo(), untouched.clone())
        .unwrap()
        .with_batch_size(10)
        .run()
        .await
        .unwrap();
    assert_eq!(
        resumed.tables[1].rows as i64,
        once.tables[1].rows as i64 - committed,
        "resumed after the last committed batch, rewriting none of it"
    );
    assert_eq!(end_state(target).await, end_state(untouched).await);
    assert_eq!(count(target, "legacy_sync_cursors").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_hash_mode_finds_changes_without_timestamps() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    hash_mode_finds_changes_without_timestamps(
        Legacy::Db(&source),
        || SqlLegacyRepository::new(source.clone(), all_hashed(None)),
        &target,
        "ALTER TABLE shipments DROP COLUMN updated_at",
        "INSERT INTO clients (client_code, client_name, currency, is_active, updated_at) \
         VALUES ('C005', 'O''Brien & Sons', 'EUR', TRUE, '2026-01-03T00:00:00Z')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_hash_mode_finds_changes_without_timestamps() {
    let (source, _s) = common::sqlite().await;
    raw(&source, &more_clearance_sql(35, true)).await;
    let (target, _t) = common::sqlite_empty().await;
    hash_mode_finds_changes_without_timestamps(
        Legacy::Db(&source),
        || SqlLegacyRepository::new(source.clone(), all_hashed(None)),
        &target,
        "ALTER TABLE shipments DROP COLUMN updated_at",
        "INSERT INTO clients (client_code, client_name, currency, is_active, updated_at) \
         VALUES ('C005', 'O''Brien & Sons', 'EUR', 1, '2026-01-03T00:00:00.000000Z')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_hash_pass_killed_midway_resumes() {
    let (source, _s) = common::postgres().await;
    raw(&source, &more_clearance_sql(35, false)).await;
    let (target, _t) = common::postgres_empty().await;
    let (untouched, _u) = common::postgres_empty().await;
    // Clients: pass and deletes are transactions 1 and 2 (5 rows); clearance's pass is
    // 3..=6 (39 rows): die at its second batch.
    killed_hash_pass_resumes(
        || SqlLegacyRepository::new(source.clone(), all_hashed(None)),
        &target,
        &untouched,
        4,
        10,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_hash_pass_killed_midway_resumes() {
    let (source, _s) = common::sqlite().await;
    raw(&source, &more_clearance_sql(35, true)).await;
    let (target, _t) = common::sqlite_empty().await;
    let (untouched, _u) = common::sqlite_empty().await;
    killed_hash_pass_resumes(
        || SqlLegacyRepository::new(source.clone(), all_hashed(None)),
        &target,
        &untouched,
        4,
        10,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mssql_hash_mode_finds_changes_without_timestamps() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    let schema = Some(source.schema.clone());
    hash_mode_finds_changes_without_timestamps(
        Legacy::Mssql(&source),
        || SqlLegacyRepository::new(source.exec.clone(), all_hashed(schema.clone())),
        &target,
        "DROP INDEX shipments_updated_idx ON {s}.shipments;
         ALTER TABLE {s}.shipments DROP COLUMN updated_at;",
        "INSERT INTO {s}.clients (client_code, client_name, currency, is_active, updated_at) \
         VALUES (N'C005', N'O''Brien & Sons', N'EUR', 1, '2026-01-03T00:00:00')",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mssql_hash_pass_killed_midway_resumes() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    let (target, _t) = common::postgres_empty().await;
    let (untouched, _u) = common::postgres_empty().await;
    let schema = Some(source.schema.clone());
    // Clients (30): pass 1..=4 (the last batch empty), deletes 5..=8; clearance's pass
    // (49) from 9: die at its second batch.
    killed_hash_pass_resumes(
        || SqlLegacyRepository::new(source.exec.clone(), all_hashed(schema.clone())),
        &target,
        &untouched,
        10,
        10,
    )
    .await;
}

/// `rowversion` needs a server that has it: elsewhere the start-up check and the sync
/// both refuse it, saying to use `hash`.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_has_no_rowversion() {
    let (source, _s) = common::sqlite().await;
    let mapping = detecting(
        None,
        ChangeDetection::UpdatedAt,
        ChangeDetection::RowVersion("updated_at".into()),
        ChangeDetection::UpdatedAt,
    );
    let err = mapping.check(&source).await.unwrap_err().to_string();
    assert!(
        err.contains("needs SQL Server") && err.contains("\"hash\""),
        "{err}"
    );
    let (target, _t) = common::sqlite_empty().await;
    migrate_target(&target).await.unwrap();
    let err = LegacySync::new(SqlLegacyRepository::new(source, mapping), target)
        .unwrap()
        .run()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs SQL Server"), "{err}");
}

/// The clearance records of the T-SQL source with a `rowversion` column `rv` and no
/// `updated_at` (dropped): checked at start (the column exists and has that type), copied
/// by the counter, killed mid-copy and resumed from the checkpoint, then updates and
/// inserts found by the counter alone.
#[tokio::test(flavor = "multi_thread")]
async fn mssql_rowversion_cursor_copies_inserts_and_updates_and_resumes() {
    let Some(source) = MssqlSource::new().await else {
        return;
    };
    source.bulk_import().await;
    // Babelfish 4.3 refuses ROWVERSION unless this session setting says to accept it
    // (error 33557097 "To use the ROWVERSION datatype, set
    // 'babelfishpg_tsql.escape_hatch_rowversion' to 'ignore'"), and a batch is checked
    // before it runs: the DDL goes in an EXEC of its own, checked after the setting.
    // SQL Server has no such procedure, nor needs it.
    let hatch = if common::mssql::is_babelfish(&source.exec).await {
        "EXEC sp_babelfish_configure 'babelfishpg_tsql.escape_hatch_rowversion', 'ignore';"
    } else {
        ""
    };
    source
        .run(&format!(
            "{hatch}
             DROP INDEX clearance_records_updated_idx ON {{s}}.clearance_records;
             ALTER TABLE {{s}}.clearance_records DROP COLUMN updated_at;
             EXEC(N'ALTER TABLE {{s}}.clearance_records ADD rv ROWVERSION');
             CREATE INDEX clearance_records_rv_idx ON {{s}}.clearance_records (rv);"
        ))
        .await;
    let schema = Some(source.schema.clone());
    let by = |column: &str| {
        detecting(
            schema.clone(),
            ChangeDetection::UpdatedAt,
            ChangeDetection::RowVersion(column.into()),
            ChangeDetection::UpdatedAt,
        )
    };
    by("rv").check(&source.exec).await.unwrap();
    let err = by("notes")
        .check(&source.exec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clearance_records.notes is nvarchar, not rowversion"),
        "{err}"
    );
    let err = by("nope")
        .check(&source.exec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clearance_records.nope (the rowversion cursor) does not exist"),
        "{err}"
    );
    let mut watermarked = by("rv");
    watermarked.change_detection.clearance = ChangeDetection::UpdatedAt;
    let err = watermarked
        .check(&source.exec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column clearance_records.updated_at does not exist"),
        "{err}"
    );

    // The sync reads through connections of its own, which never set the escape hatch:
    // reading (and comparing) a rowversion column does not need it.
    let fresh = common::mssql::connect(common::mssql::config().unwrap()).await;
    let repo = || SqlLegacyRepository::new(fresh.clone(), by("rv"));
    let (target, _t) = common::postgres_empty().await;
    migrate_target(&target).await.unwrap();
    // Clients (30, by updated_at) take 1..=3 and their deletes pass 4..=7; clearance
    // batches (49) start at 8: die at the second.
    let err = sync_killed(
        LegacySync::new(repo(), Killed::new(&target, 9))
            .unwrap()
            .with_batch_size(10),
    )
    .await;
    assert!(err.contains("unavailable"), "{err}");
    assert_eq!(count(&target, "legacy_clearance_records").await, 10);
    assert_eq!(count(&target, "legacy_sync_cursors").await, 1);

    let sync = LegacySync::new(repo(), target.clone())
        .unwrap()
        .with_batch_size(10);
    let resumed = sync.run().await.unwrap();
    assert_eq!(resumed.tables[1].rows, 49 - 10, "from the checkpoint");
    assert_eq!(
        ids(&target, "legacy_clearance_records").await,
        source.clearance_ids().await,
        "no record lost, none doubled"
    );
    assert_eq!(
        sync.run().await.unwrap().rows(),
        0,
        "the counter did not move"
    );

    source
        .run(
            "UPDATE {s}.clearance_records SET notes = N'seen by rowversion' WHERE clearance_no = N'CL-2026-0003';
             INSERT INTO {s}.clearance_records (clearance_no, client_code, declaration_date, hs_code, \
                 customs_value, currency, duty_amount, status)
             VALUES (N'RV-0001', N'C001', '2026-05-01', N'8471.30', 10.5, N'HKD', 0, N'DRAFT');",
        )
        .await;
    let after = sync.run().await.unwrap();
    assert_eq!(after.tables[1].rows, 2, "the update and the insert");
    assert_eq!(
        copied(
            &target,
            "legacy_clearance_records",
            "notes",
            "clearance_id",
            3
        )
        .await,
        "seen by rowversion"
    );
    assert_eq!(
        ids(&target, "legacy_clearance_records").await,
        source.clearance_ids().await
    );
    assert_eq!(sync.run().await.unwrap().rows(), 0);
}
