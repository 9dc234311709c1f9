//! Sync throughput from a T-SQL server (SQL Server or Babelfish) into PostgreSQL.
//!
//! ```sh
//! MSSQL_TEST_URL='server=tcp:127.0.0.1,1437;...' cargo bench -p erp-legacy --bench sync_mssql
//! ```
//!
//! Builds `SYNC_BENCH_ROWS` (default 1 000 000) `clients` rows on the T-SQL server with
//! T-SQL only, in a schema of its own, then: a full load into a fresh PostgreSQL schema
//! (`ERP_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`), an
//! incremental run after 1 % of the rows changed and 0.1 % were deleted, and a run
//! with nothing changed (the deletes pass alone, which reads every key). `SYNC_BENCH_BATCH` sets the batch size
//! (default: the sync's). `SYNC_BENCH_MODE=hash` finds the changes with the hash pass
//! (`[change_detection] clients = "hash"`: every row read and hashed, only the changed
//! ones written) instead of the `updated_at` watermark. Prints rows/s, wall time, this process's CPU time and peak
//! RSS per phase. Everything it creates is dropped at the end, also when a phase fails.
//! Without `MSSQL_TEST_URL` it says it is skipped and exits.

use std::time::{Duration, Instant};

use erp_core::sql::{Database, PgConfig, PgExecutor};
use erp_legacy::{
    ChangeDetection, ChangeDetections, LegacyMapping, SqlLegacyRepository,
    mssql::{MssqlConfig, MssqlExecutor},
    sync::{LegacySync, SyncReport, migrate_target},
};

const SCHEMA_SQL: &str = include_str!("../sql/mssql/01_schema.sql");

/// Rows generated per INSERT statement: one five-way cross join of ten digits.
const CHUNK: u64 = 100_000;

/// Drops the T-SQL schema and the PostgreSQL schema when the bench ends, however it
/// ends (a failed phase panics; the guard still runs).
struct Cleanup {
    source: MssqlExecutor,
    source_schema: String,
    target_url: String,
    target_schema: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let source = self.source.clone();
        let source_schema = self.source_schema.clone();
        let url = self.target_url.clone();
        let target_schema = self.target_schema.clone();
        // Drop cannot await, and the bench's runtime may be unwinding: a runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            rt.block_on(async {
                for table in ["shipments", "clearance_records", "clients"] {
                    let _ = source
                        .batch_execute_raw(&format!("DROP TABLE IF EXISTS {source_schema}.{table}"))
                        .await;
                }
                if let Err(e) = source
                    .batch_execute_raw(&format!("DROP SCHEMA {source_schema}"))
                    .await
                {
                    eprintln!("cleanup: could not drop T-SQL schema {source_schema}: {e}");
                }
                match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
                    Ok((client, conn)) => {
                        tokio::spawn(conn);
                        if let Err(e) = client
                            .batch_execute(&format!(
                                "DROP SCHEMA IF EXISTS {target_schema} CASCADE"
                            ))
                            .await
                        {
                            eprintln!("cleanup: could not drop {target_schema}: {e}");
                        }
                    }
                    Err(e) => eprintln!("cleanup: cannot reach PostgreSQL: {e}"),
                }
            });
        })
        .join();
    }
}

/// `clients` rows `from..to`: ten per cent (at most 100 000) share one `updated_at`, as
/// after a bulk import, so pages fall inside one timestamp; the rest come in pairs one
/// millisecond apart. Some optional columns are NULL (literals, never parameters).
fn insert_clients(schema: &str, from: u64, to: u64, shared: u64) -> String {
    let digits = "(VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9))";
    format!(
        "INSERT INTO {schema}.clients (client_code, client_name, business_reg_no, contact_name, \
            contact_phone, contact_email, address, currency, is_active, updated_at)
         SELECT N'B' + RIGHT(N'000000000' + CAST(i AS NVARCHAR(10)), 9),
                CASE WHEN i % 7 = 0 THEN N'劉氏貿易有限公司 ' ELSE N'Bench Trading Ltd ' END
                    + CAST(i AS NVARCHAR(10)),
                N'BR-' + CAST(i AS NVARCHAR(10)),
                CASE WHEN i % 5 = 0 THEN NULL ELSE N'Contact ' + CAST(i % 1000 AS NVARCHAR(10)) END,
                CASE WHEN i % 3 = 0 THEN NULL ELSE N'+852 2111 ' + RIGHT(N'0000' + CAST(i % 10000 AS NVARCHAR(10)), 4) END,
                N'client' + CAST(i AS NVARCHAR(10)) + N'@bench.example',
                CAST(i % 500 AS NVARCHAR(10)) + N' Harbour Road, Wan Chai, Hong Kong',
                CASE i % 3 WHEN 0 THEN N'HKD' WHEN 1 THEN N'USD' ELSE N'EUR' END,
                CASE WHEN i % 10 = 0 THEN 0 ELSE 1 END,
                CASE WHEN i < {shared} THEN CAST('2025-12-31T00:00:00' AS DATETIME2(6))
                     ELSE DATEADD(MILLISECOND, i / 2, CAST('2026-01-01T00:00:00' AS DATETIME2(6))) END
         FROM (SELECT {from} + a.n + 10 * b.n + 100 * c.n + 1000 * d.n + 10000 * e.n AS i
               FROM {digits} a(n) CROSS JOIN {digits} b(n) CROSS JOIN {digits} c(n)
                    CROSS JOIN {digits} d(n) CROSS JOIN {digits} e(n)) g
         WHERE i < {to}"
    )
}

/// CPU time (user + system) this process has used, in seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and
    // 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// CPU time the whole machine has used (every process, the servers included), in
/// seconds: with the servers on this machine, what it used beyond this process is theirs
/// and other work's.
fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Some(busy / 100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".into())
}

/// The peak resident set of this process since the last [`reset_peak_rss`], in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux >= 4.0), so each phase reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs one sync and prints what it did: rows/s, wall time, this process's CPU time and
/// peak RSS over the run, and the machine's load average before it (other work on the
/// machine shows there).
#[allow(clippy::print_stdout)]
async fn phase<S, T>(name: &str, sync: &LegacySync<S, T>) -> SyncReport
where
    S: erp_core::sql::Executor + Clone + 'static,
    T: erp_core::sql::Executor,
{
    let load = load_average();
    reset_peak_rss();
    let cpu = cpu_seconds();
    let machine = machine_cpu_seconds();
    let started = Instant::now();
    let report = sync.run().await.unwrap_or_else(|e| panic!("{name}: {e}"));
    let secs = started.elapsed().as_secs_f64();
    let cpu = match (cpu, cpu_seconds()) {
        (Some(a), Some(b)) => format!("{:.2} s", b - a),
        _ => "n/a".into(),
    };
    let machine = match (machine, machine_cpu_seconds()) {
        (Some(a), Some(b)) => format!("{:.2} s", b - a),
        _ => "n/a".into(),
    };
    let peak = peak_rss_mib().map_or_else(|| "n/a".into(), |m| format!("{m:.1} MiB"));
    let rows = report.rows();
    let deleted = report.deleted();
    let batches: u64 = report.tables.iter().map(|t| t.batches).sum();
    println!(
        "{name:<18} {rows:>8} rows {deleted:>6} deleted {batches:>4} batches {secs:>7.2} s {:>8.0} rows/s  cpu {cpu} (machine {machine})  peak RSS {peak}  (load before: {load})",
        rows as f64 / secs
    );
    report
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

#[allow(clippy::print_stdout)] // a measurement harness: printing is its output
#[tokio::main]
async fn main() {
    let mssql_url = match std::env::var("MSSQL_TEST_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            println!("skipped: MSSQL_TEST_URL not set");
            return;
        }
    };
    let pg_url = std::env::var("ERP_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rows = env_u64("SYNC_BENCH_ROWS", 1_000_000);
    let batch = std::env::var("SYNC_BENCH_BATCH")
        .ok()
        .map(|_| env_u64("SYNC_BENCH_BATCH", 0));
    let mode = match std::env::var("SYNC_BENCH_MODE").as_deref() {
        Ok("hash") => ChangeDetection::Hash,
        Ok("updated_at") | Err(_) => ChangeDetection::UpdatedAt,
        Ok(other) => panic!("SYNC_BENCH_MODE must be updated_at or hash, not {other:?}"),
    };
    println!("change detection of clients: {}", mode.as_setting());

    let config = MssqlConfig::from_env_value("MSSQL_TEST_URL", &mssql_url)
        .expect("MSSQL_TEST_URL")
        .with_query_timeout(Duration::from_secs(600));
    let source = MssqlExecutor::connect(config)
        .await
        .expect("the T-SQL server at MSSQL_TEST_URL");
    let id = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let source_schema = format!("erp_bench_{id}");
    let target_schema = format!("erp_bench_{id}");
    let _cleanup = Cleanup {
        source: source.clone(),
        source_schema: source_schema.clone(),
        target_url: pg_url.clone(),
        target_schema: target_schema.clone(),
    };

    let started = Instant::now();
    source
        .batch_execute_raw(&format!("CREATE SCHEMA {source_schema}"))
        .await
        .expect("CREATE SCHEMA");
    source
        .batch_execute_raw(&SCHEMA_SQL.replace("dbo.", &format!("{source_schema}.")))
        .await
        .expect("sample schema");
    let shared = (rows / 10).min(100_000);
    let mut from = 0;
    while from < rows {
        let to = (from + CHUNK).min(rows);
        source
            .batch_execute_raw(&insert_clients(&source_schema, from, to, shared))
            .await
            .expect("INSERT .. SELECT");
        from = to;
    }
    println!(
        "source: {rows} clients rows ({shared} sharing one updated_at) built on the T-SQL server in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let target = {
        let cfg = PgConfig::from_url(&pg_url)
            .expect("ERP_TEST_DATABASE_URL")
            .with_schema(target_schema.clone())
            .expect("schema name");
        let exec = PgExecutor::connect(cfg).await.expect("PostgreSQL");
        exec.batch_execute_raw(&format!("CREATE SCHEMA {target_schema}"))
            .await
            .expect("CREATE SCHEMA");
        Database::Postgres(exec)
    };
    migrate_target(&target).await.expect("migrate the target");
    let mapping = LegacyMapping {
        schema: Some(source_schema.clone()),
        change_detection: ChangeDetections {
            clients: mode,
            ..ChangeDetections::default()
        },
        ..LegacyMapping::default()
    };
    let sync = || {
        let s = LegacySync::new(
            SqlLegacyRepository::new(source.clone(), mapping.clone()),
            target.clone(),
        )
        .expect("sync");
        match batch {
            Some(b) => s.with_batch_size(b),
            None => s,
        }
    };

    let full = phase("full load", &sync()).await;
    assert_eq!(full.rows(), rows, "every source row copied");

    // Codes end in the row number: those ending in 00 are every hundredth row.
    let changed = rows.div_ceil(100);
    source
        .batch_execute_raw(&format!(
            "UPDATE {source_schema}.clients
             SET client_name = client_name + N' (updated)',
                 updated_at = DATEADD(MILLISECOND, CAST(SUBSTRING(client_code, 2, 9) AS INT) / 100,
                                      CAST('2027-01-01T00:00:00' AS DATETIME2(6)))
             WHERE client_code LIKE N'%00'"
        ))
        .await
        .expect("UPDATE 1 %");
    // And 0.1 % deleted: the codes ending in 123 (none of them among the changed).
    let deleted = rows / 1000 + u64::from(rows % 1000 > 123);
    source
        .batch_execute_raw(&format!(
            "DELETE FROM {source_schema}.clients WHERE client_code LIKE N'%123'"
        ))
        .await
        .expect("DELETE 0.1 %");

    let incremental = phase("incremental (1 % changed, 0.1 % deleted)", &sync()).await;
    assert_eq!(incremental.rows(), changed, "exactly the changed rows");
    assert_eq!(incremental.deleted(), deleted, "exactly the deleted rows");

    // Nothing changed: what every run costs anyway (the deletes pass reads every key).
    let idle = phase("unchanged", &sync()).await;
    assert_eq!((idle.rows(), idle.deleted()), (0, 0));

    let Database::Postgres(pg) = &target else {
        unreachable!()
    };
    let check = pg
        .query_raw(
            "SELECT count(*)::bigint AS n, count(*) FILTER (WHERE client_name LIKE '%(updated)')::bigint AS u, \
                    count(*) FILTER (WHERE deleted_at IS NOT NULL)::bigint AS d FROM legacy_clients",
        )
        .await
        .expect("count the copy");
    let n: i64 = check[0].get("n").unwrap();
    let u: i64 = check[0].get("u").unwrap();
    let d: i64 = check[0].get("d").unwrap();
    assert_eq!(
        (n as u64, u as u64, d as u64),
        (rows, changed, deleted),
        "the copy matches the source"
    );
    println!("copy checked: {n} rows, {u} updated, {d} marked deleted");
    println!(
        "cpu, peak RSS: this process (the bench and the sync's reader and writer; not the servers); \
         peak RSS is VmHWM, reset before each phase; machine: the CPU time of every process on \
         the machine over the phase (servers and any other work included)"
    );
}
