//! The legacy repository conformance suite: the same tests on PostgreSQL and SQLite
//! (`<backend>::<case>`), and on SQL Server (`mssql::mssql_<case>`) when MSSQL_TEST_URL
//! names one.

mod common;

use chrono::NaiveDate;
use erp_core::sql::Executor;
use erp_legacy::{
    ClearanceChange, ClearanceStatus, LegacyError, LegacyMapping, LegacyRepository, NewShipment,
    Page, RowVersion, SqlLegacyRepository,
};
use rust_decimal::Decimal;

async fn schema_check<E: Executor>(r: SqlLegacyRepository<E>) {
    let base = r.mapping().clone();
    base.check(r.executor())
        .await
        .expect("the sample schema matches the default mapping");
    let mut mapping = LegacyMapping::from_toml_str(
        "[clients]\ncode = \"cust_code\"\n[shipments]\ntable = \"tbl_shipments\"",
    )
    .unwrap();
    mapping.schema = base.schema.clone();
    match mapping.check(r.executor()).await {
        Err(LegacyError::SchemaMismatch { problems }) => {
            let text = problems.join("\n");
            assert!(text.contains("clients.cust_code"), "{text}");
            assert!(text.contains("table tbl_shipments"), "{text}");
            assert_eq!(problems.len(), 2, "{text}");
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

async fn search_and_page_clients<E: Executor>(r: SqlLegacyRepository<E>) {
    let all = r.search_clients(None, Page::new(1, 2)).await.unwrap();
    assert_eq!(all.total, 5);
    assert_eq!(
        all.items
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>(),
        ["C001", "C002"]
    );
    let page3 = r.search_clients(None, Page::new(3, 2)).await.unwrap();
    assert_eq!(page3.items.len(), 1);
    assert_eq!(
        r.search_clients(None, Page::new(1, 10_000))
            .await
            .unwrap()
            .page_size,
        100,
        "clamped"
    );
    let acme = r
        .search_clients(Some("ACME"), Page::default())
        .await
        .unwrap();
    assert_eq!(acme.total, 1);
    assert_eq!(acme.items[0].name, "Acme Trading Ltd");
    let cjk = r
        .search_clients(Some("劉氏"), Page::default())
        .await
        .unwrap();
    assert_eq!(cjk.items[0].code, "C002");
    assert_eq!(cjk.items[0].contact_name.as_deref(), Some("劉念萱"));
    // Wildcards in the term match themselves.
    assert_eq!(
        r.search_clients(Some("100%"), Page::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        r.search_clients(Some("%"), Page::default())
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        r.search_clients(Some("_"), Page::default())
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        r.search_clients(Some("O'Brien"), Page::default())
            .await
            .unwrap()
            .total,
        1
    );
}

async fn read_records<E: Executor>(r: SqlLegacyRepository<E>) {
    let kim = r.client("C003").await.unwrap().unwrap();
    assert_eq!(kim.name, "김민준 무역");
    assert_eq!(kim.currency, "KRW");
    assert!(kim.is_active);
    assert!(!r.client("C004").await.unwrap().unwrap().is_active);
    assert!(r.client("NOPE").await.unwrap().is_none());
    assert!(matches!(
        r.client("  ").await,
        Err(LegacyError::InvalidInput { .. })
    ));

    let c = r.clearance(1).await.unwrap().unwrap();
    assert_eq!(
        c.customs_value,
        "12345.6789".parse::<Decimal>().unwrap(),
        "exact decimals"
    );
    assert_eq!(
        c.declaration_date,
        NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
    );
    assert_eq!(c.status, ClearanceStatus::Cleared);
    let big = r.clearance(3).await.unwrap().unwrap();
    assert_eq!(big.customs_value, "1500000".parse::<Decimal>().unwrap());
    assert_eq!(big.duty, "75000".parse::<Decimal>().unwrap());
    assert_eq!(big.notes.as_deref(), Some("茶葉 檢查"));
    assert!(r.clearance(999).await.unwrap().is_none());
    assert!(matches!(
        r.clearance(0).await,
        Err(LegacyError::InvalidInput { .. })
    ));
    assert!(matches!(
        r.clearance(-1).await,
        Err(LegacyError::InvalidInput { .. })
    ));

    let ships = r
        .shipments_by_client("C001", Page::default())
        .await
        .unwrap();
    assert_eq!(ships.total, 2);
    assert_eq!(ships.items[0].bl_no, "BL-HKG-0002", "newest first");
    let s = r.shipment_by_bl("BL-PUS-0003").await.unwrap().unwrap();
    assert_eq!(s.eta, None);
    assert_eq!(s.etd, NaiveDate::from_ymd_opt(2026, 2, 5));
    assert_eq!(s.container_no.as_deref(), Some("HDMU7654321"));
    assert!(r.shipment_by_bl("BL-NONE").await.unwrap().is_none());
}

async fn writes<E: Executor>(r: SqlLegacyRepository<E>) {
    let before = r.clearance(2).await.unwrap().unwrap();
    let after = r
        .update_clearance_status(2, ClearanceStatus::Cleared, Some("released 放行"))
        .await
        .unwrap();
    assert_eq!(after.status, ClearanceStatus::Cleared);
    assert_eq!(after.notes.as_deref(), Some("released 放行"));
    assert!(after.updated_at > before.updated_at);
    assert_eq!(
        after.customs_value, before.customs_value,
        "nothing else changed"
    );
    assert!(matches!(
        r.update_clearance_status(999, ClearanceStatus::Draft, None)
            .await,
        Err(LegacyError::NotFound(_))
    ));
    assert!(matches!(
        r.update_clearance_status(2, ClearanceStatus::Draft, Some(&"x".repeat(2001)))
            .await,
        Err(LegacyError::InvalidInput { .. })
    ));

    let new = NewShipment {
        bl_no: "BL-HKG-0100".into(),
        client_code: "C002".into(),
        container_no: Some("TGHU0000001".into()),
        origin: "Hong Kong".into(),
        destination: "釜山".into(),
        etd: NaiveDate::from_ymd_opt(2026, 3, 1),
        eta: NaiveDate::from_ymd_opt(2026, 3, 4),
        status: None,
    };
    let booked = r.insert_shipment(new.clone()).await.unwrap();
    assert!(booked.id > 3);
    assert_eq!(booked.status, "BOOKED");
    assert_eq!(booked.destination, "釜山");
    assert_eq!(
        r.shipment_by_bl("BL-HKG-0100").await.unwrap().unwrap().id,
        booked.id
    );
    let dup = r.insert_shipment(new.clone()).await.unwrap_err();
    assert!(
        matches!(
            dup,
            LegacyError::Conflict {
                what: "shipment B/L number",
                ..
            }
        ),
        "{dup:?}"
    );
    let orphan = NewShipment {
        bl_no: "BL-X".into(),
        client_code: "NOPE".into(),
        ..new.clone()
    };
    assert!(matches!(
        r.insert_shipment(orphan).await,
        Err(LegacyError::NotFound("client"))
    ));
    let backwards = NewShipment {
        bl_no: "BL-Y".into(),
        eta: NaiveDate::from_ymd_opt(2026, 2, 1),
        ..new
    };
    assert!(matches!(
        r.insert_shipment(backwards).await,
        Err(LegacyError::InvalidInput { field: "eta", .. })
    ));
}

/// The stamp columns of a record: `(created_by, updated_by)` (`created_by` none for
/// clearance records, which have no such column).
async fn stamps<E: Executor>(
    r: &SqlLegacyRepository<E>,
    table: &str,
    key: &str,
    id: i64,
    created: bool,
) -> (Option<String>, Option<String>) {
    use sea_query::{Alias, Expr, ExprTrait, IntoTableRef, Query};
    let t = match &r.mapping().schema {
        Some(schema) => (Alias::new(schema), Alias::new(table)).into_table_ref(),
        None => Alias::new(table).into_table_ref(),
    };
    let mut q = Query::select();
    q.expr_as(Expr::col(Alias::new("updated_by")), Alias::new("u"));
    if created {
        q.expr_as(Expr::col(Alias::new("created_by")), Alias::new("c"));
    }
    q.from(t).and_where(Expr::col(Alias::new(key)).eq(id));
    let rows = r
        .executor()
        .fetch_all(erp_core::sql::Scope::Global, &q.into())
        .await
        .unwrap();
    let created = if created {
        rows[0].get("c").unwrap()
    } else {
        None
    };
    (created, rows[0].get("u").unwrap())
}

/// Writes with a version (`If-Match`) and the acting principal stamped where the mapping
/// names a column for it.
async fn versioned_stamped_writes<E: Executor + Clone>(r: SqlLegacyRepository<E>) {
    let mut mapping = r.mapping().clone();
    mapping.clearance.updated_by = Some("updated_by".into());
    mapping.shipments.created_by = Some("created_by".into());
    mapping.shipments.updated_by = Some("updated_by".into());
    mapping
        .check(r.executor())
        .await
        .expect("the sample schema has the stamp columns");
    let r = SqlLegacyRepository::new(r.executor().clone(), mapping);

    let before = r.clearance(3).await.unwrap().unwrap();
    let v1 = RowVersion::of(before.updated_at);
    let change = ClearanceChange {
        status: Some(ClearanceStatus::Cleared),
        notes: None,
    };
    let after = r
        .change_clearance(3, &change, Some(v1), "alice")
        .await
        .unwrap();
    assert_eq!(after.status, ClearanceStatus::Cleared);
    assert_eq!(after.notes, before.notes, "notes not named, kept");
    assert_ne!(RowVersion::of(after.updated_at), v1, "a new version");
    assert_eq!(
        stamps(&r, "clearance_records", "clearance_id", 3, false).await,
        (None, Some("alice".into()))
    );

    // A writer still holding the first version loses, and changes nothing.
    let stale = ClearanceChange {
        status: Some(ClearanceStatus::Rejected),
        notes: Some(None),
    };
    assert!(matches!(
        r.change_clearance(3, &stale, Some(v1), "bob").await,
        Err(LegacyError::PreconditionFailed(_))
    ));
    let now = r.clearance(3).await.unwrap().unwrap();
    assert_eq!(now, after, "the stale write changed nothing");
    // With the current version it wins: notes cleared, stamp moved.
    // The version as a client sends it back: through its entity tag.
    let v2 = RowVersion::from_etag(&RowVersion::of(now.updated_at).etag()).unwrap();
    let cleared = r
        .change_clearance(3, &stale, Some(v2), "svc:nightly-batch")
        .await
        .unwrap();
    assert_eq!(
        (cleared.status, cleared.notes),
        (ClearanceStatus::Rejected, None)
    );
    assert_eq!(
        stamps(&r, "clearance_records", "clearance_id", 3, false).await,
        (None, Some("svc:nightly-batch".into()))
    );
    assert!(matches!(
        r.change_clearance(999, &change, Some(v2), "alice").await,
        Err(LegacyError::NotFound(_))
    ));
    assert!(matches!(
        r.change_clearance(3, &ClearanceChange::default(), None, "alice")
            .await,
        Err(LegacyError::InvalidInput { field: "body", .. })
    ));
    assert!(matches!(
        r.change_clearance(3, &change, None, &"x".repeat(129)).await,
        Err(LegacyError::InvalidInput {
            field: "principal",
            ..
        })
    ));

    let booked = r
        .book_shipment(
            NewShipment {
                bl_no: "BL-STAMP-1".into(),
                client_code: "C001".into(),
                container_no: None,
                origin: "Hong Kong".into(),
                destination: "Busan".into(),
                etd: None,
                eta: None,
                status: None,
            },
            "alice",
        )
        .await
        .unwrap();
    assert_eq!(
        stamps(&r, "shipments", "shipment_id", booked.id, true).await,
        (Some("alice".into()), Some("alice".into()))
    );
}

macro_rules! conformance {
    ($backend:ident, $setup:path) => {
        mod $backend {
            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (db, _cleanup) = $setup().await;
                        super::$name(erp_legacy::SqlLegacyRepository::new(
                            db,
                            erp_legacy::LegacyMapping::default(),
                        ))
                        .await;
                    }
                };
            }
            case!(schema_check);
            case!(search_and_page_clients);
            case!(read_records);
            case!(writes);
            case!(versioned_stamped_writes);
        }
    };
}

conformance!(postgres, crate::common::postgres);
conformance!(sqlite, crate::common::sqlite);

/// The same cases on SQL Server or Babelfish, when `MSSQL_TEST_URL` names one: the sample
/// scripts are loaded into a schema of their own, dropped when the test ends, even if it
/// fails.
mod mssql {
    use erp_legacy::{LegacyMapping, SqlLegacyRepository, mssql::MssqlExecutor};

    use crate::common::mssql::{Cleanup, DATA, SCHEMA, config, connect};

    async fn setup() -> Option<(SqlLegacyRepository<MssqlExecutor>, Cleanup)> {
        let config = config()?;
        let exec = connect(config.clone()).await;
        let schema = format!("erp_l_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut cleanup = Cleanup::new(&config);
        cleanup.push(format!("DROP SCHEMA IF EXISTS {schema}"));
        // CREATE SCHEMA must be alone in its batch.
        exec.batch_execute_raw(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        for table in ["clients", "clearance_records", "shipments"] {
            cleanup.push(format!("DROP TABLE IF EXISTS {schema}.{table}"));
        }
        let qualify = |sql: &str| sql.replace("dbo.", &format!("{schema}."));
        exec.batch_execute_raw(&qualify(SCHEMA)).await.unwrap();
        exec.batch_execute_raw(&qualify(DATA)).await.unwrap();
        let mapping = LegacyMapping {
            schema: Some(schema.clone()),
            ..LegacyMapping::default()
        };
        Some((SqlLegacyRepository::new(exec, mapping), cleanup))
    }

    macro_rules! case {
        ($test:ident, $name:ident) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                let Some((repo, _cleanup)) = setup().await else {
                    return;
                };
                super::$name(repo).await;
            }
        };
    }
    case!(mssql_schema_check, schema_check);
    case!(mssql_search_and_page_clients, search_and_page_clients);
    case!(mssql_read_records, read_records);
    case!(mssql_writes, writes);
    case!(mssql_versioned_stamped_writes, versioned_stamped_writes);
}
