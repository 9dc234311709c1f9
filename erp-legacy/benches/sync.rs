//! Sync throughput: rows per second from a legacy source into a PostgreSQL ERP database.
//!
//! `cargo bench -p erp-legacy --bench sync` (PostgreSQL at ERP_TEST_DATABASE_URL)

use std::time::Instant;

use erp_core::sql::{Database, DatabaseConfig, PgConfig, PgExecutor, SqliteConfig};
use erp_legacy::{
    LegacyMapping, SqlLegacyRepository,
    sync::{LegacySync, migrate_target},
};

const ROWS: usize = 20_000;

fn generated(sqlite: bool) -> String {
    let mut sql = String::from("BEGIN;\n");
    for i in 0..ROWS {
        let ts = if sqlite {
            format!(
                "'2026-03-{:02}T{:02}:{:02}:00.000000Z'",
                1 + i / 1440,
                (i / 60) % 24,
                i % 60
            )
        } else {
            format!(
                "'2026-03-{:02}T{:02}:{:02}:00Z'",
                1 + i / 1440,
                (i / 60) % 24,
                i % 60
            )
        };
        let v = if sqlite {
            format!("'{}.2500'", i)
        } else {
            format!("{}.2500", i)
        };
        sql.push_str(&format!(
            "INSERT INTO clearance_records (clearance_no, client_code, declaration_date, hs_code, customs_value, currency, duty_amount, status, notes, updated_at) \
             VALUES ('B-{i:06}', 'C001', '2026-03-01', '8471.30', {v}, 'HKD', {v}, 'SUBMITTED', 'bench row {i}', {ts});\n"
        ));
    }
    sql.push_str("COMMIT;\n");
    sql
}

async fn pg(url: &str, schema: &str) -> Database {
    let cfg = PgConfig::from_url(url)
        .unwrap()
        .with_schema(schema)
        .unwrap();
    let exec = PgExecutor::connect(cfg).await.expect("PostgreSQL");
    exec.batch_execute_raw(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await
        .unwrap();
    Database::Postgres(exec)
}

#[allow(clippy::print_stdout)] // a measurement harness: printing is its output
#[tokio::main]
async fn main() {
    let url = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let id = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let dir = tempfile::tempdir().unwrap();
    let lite = Database::connect(DatabaseConfig::Sqlite(SqliteConfig::file(
        dir.path().join("legacy.sqlite"),
    )))
    .await
    .unwrap();
    let Database::Sqlite(l) = &lite else {
        unreachable!()
    };
    l.batch_execute_raw(include_str!("../sql/sqlite/01_schema.sql"))
        .await
        .unwrap();
    l.batch_execute_raw(include_str!("../sql/sqlite/02_sample_data.sql"))
        .await
        .unwrap();
    l.batch_execute_raw(generated(true)).await.unwrap();
    let source_schema = format!("erp_bsrc_{id}");
    let pg_source = pg(&url, &source_schema).await;
    let Database::Postgres(p) = &pg_source else {
        unreachable!()
    };
    p.batch_execute_raw(include_str!("../sql/postgres/01_schema.sql"))
        .await
        .unwrap();
    p.batch_execute_raw(include_str!("../sql/postgres/02_sample_data.sql"))
        .await
        .unwrap();
    p.batch_execute_raw(&generated(false)).await.unwrap();

    for (name, source) in [("SQLite", lite.clone()), ("PostgreSQL", pg_source.clone())] {
        for batch in [1000u64, 5000, 10_000] {
            let target_schema = format!("erp_btgt_{id}_{}_{batch}", name.to_lowercase());
            let target = pg(&url, &target_schema).await;
            migrate_target(&target).await.unwrap();
            let sync = LegacySync::new(
                SqlLegacyRepository::new(source.clone(), LegacyMapping::default()),
                target.clone(),
            )
            .unwrap()
            .with_batch_size(batch);
            let started = Instant::now();
            let report = sync.run().await.unwrap();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{name:>10} -> PostgreSQL, batch {batch:>4}: {} rows in {:.2} s = {:>7.0} rows/s",
                report.rows(),
                secs,
                report.rows() as f64 / secs
            );
            let Database::Postgres(t) = &target else {
                unreachable!()
            };
            t.batch_execute_raw(&format!("DROP SCHEMA {target_schema} CASCADE"))
                .await
                .unwrap();
        }
    }
    p.batch_execute_raw(&format!("DROP SCHEMA {source_schema} CASCADE"))
        .await
        .unwrap();
}
