//! Every statement the legacy repository and the sync source issue, rendered as T-SQL
//! and compared with golden strings: what SQL Server (2016+) and Babelfish will receive.

use std::{sync::Mutex, time::Duration};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use erp_core::{
    Backend,
    sql::{Cell, Executor, Row, Scope, Statement},
};
use erp_legacy::{
    ChangeDetection, ChangeDetections, ClearanceStatus, LegacyMapping, LegacyRepository,
    NewShipment, Page, SqlLegacyRepository, tsql,
};

/// Records statements (rendered as T-SQL) and answers with plausible rows.
#[derive(Debug, Default)]
struct Recorder {
    sql: Mutex<Vec<String>>,
    values: Mutex<Vec<Vec<sea_query::Value>>>,
}

fn row(pairs: &[(&str, Cell)]) -> Row {
    Row::new(
        pairs
            .iter()
            .map(|(k, _)| (*k).to_owned())
            .collect::<Vec<_>>()
            .into(),
        pairs.iter().map(|(_, v)| v.clone()).collect(),
    )
}

#[async_trait]
impl Executor for Recorder {
    fn backend(&self) -> Backend {
        Backend::Mssql
    }
    async fn fetch_all(&self, _: Scope, s: &Statement) -> erp_core::Result<Vec<Row>> {
        let (sql, values) = tsql::render(s).expect("renders as T-SQL");
        self.sql.lock().unwrap().push(sql.clone());
        self.values.lock().unwrap().push(values.0);
        let ts = Cell::Timestamp(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        Ok(if sql.contains("COUNT(*)") {
            vec![row(&[("total", Cell::Int(1))])]
        } else if sql.contains("[information_schema].[columns]") {
            vec![row(&[("column_name", Cell::Text("rv".into()))])]
        } else if sql.starts_with("INSERT") {
            vec![row(&[("shipment_id", Cell::Int(7))])]
        } else if sql.contains("AS [name]") {
            vec![row(&[
                ("code", Cell::Text("C001".into())),
                ("name", Cell::Text("Acme".into())),
                ("business_reg_no", Cell::Null),
                ("contact_name", Cell::Null),
                ("contact_phone", Cell::Null),
                ("contact_email", Cell::Null),
                ("address", Cell::Null),
                ("currency", Cell::Text("HKD".into())),
                ("is_active", Cell::Bool(true)),
                ("updated_at", ts),
            ])]
        } else {
            Vec::new()
        })
    }
    async fn execute(&self, _: Scope, s: &Statement) -> erp_core::Result<u64> {
        let (sql, values) = tsql::render(s).expect("renders as T-SQL");
        self.sql.lock().unwrap().push(sql);
        self.values.lock().unwrap().push(values.0);
        Ok(0)
    }
    async fn execute_batch(&self, scope: Scope, s: &[Statement]) -> erp_core::Result<Vec<u64>> {
        let mut out = Vec::new();
        for st in s {
            out.push(self.execute(scope, st).await?);
        }
        Ok(out)
    }
    async fn ping(&self) -> erp_core::Result<Duration> {
        Ok(Duration::ZERO)
    }
}

const CLIENT_COLS: &str = "SELECT [client_code] AS [code], [client_name] AS [name], [business_reg_no] AS [business_reg_no], [contact_name] AS [contact_name], [contact_phone] AS [contact_phone], [contact_email] AS [contact_email], [address] AS [address], [currency] AS [currency], [is_active] AS [is_active], [updated_at] AS [updated_at] FROM [dbo].[clients]";

#[tokio::test]
async fn every_repository_statement_in_tsql() {
    let mapping = LegacyMapping {
        schema: Some("dbo".into()),
        ..LegacyMapping::default()
    };
    let r = SqlLegacyRepository::new(Recorder::default(), mapping);
    let _ = r.search_clients(Some("Ac%"), Page::new(2, 10)).await;
    let _ = r.client("C001").await;
    let _ = r.clearance(5).await;
    let _ = r.shipments_by_client("C001", Page::default()).await;
    let _ = r.shipment_by_bl("BL-1").await;
    let _ = r
        .update_clearance_status(5, ClearanceStatus::Cleared, Some("ok"))
        .await;
    let _ = r
        .update_clearance_status(5, ClearanceStatus::Draft, None)
        .await;
    let _ = r
        .insert_shipment(NewShipment {
            bl_no: "BL-9".into(),
            client_code: "C001".into(),
            container_no: None,
            origin: "HKG".into(),
            destination: "RTM".into(),
            etd: None,
            eta: None,
            status: None,
        })
        .await;
    let _ = r
        .clients_changed(
            Some((
                Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                "C001".into(),
            )),
            1000,
        )
        .await;
    let _ = r.clearance_changed(None, 1000).await;
    let recorded = r.executor().sql.lock().unwrap().clone();
    let expected = [
        "SELECT COUNT(*) AS [total] FROM [dbo].[clients] WHERE LOWER([client_code]) LIKE @P1 OR LOWER([client_name]) LIKE @P2".to_owned(),
        format!("{CLIENT_COLS} WHERE LOWER([client_code]) LIKE @P1 OR LOWER([client_name]) LIKE @P2 ORDER BY [client_code] ASC OFFSET @P3 ROWS FETCH NEXT @P4 ROWS ONLY"),
        format!("{CLIENT_COLS} WHERE [client_code] = @P1"),
        "SELECT [clearance_id] AS [id], [clearance_no] AS [clearance_no], [client_code] AS [client_code], [declaration_date] AS [declaration_date], [hs_code] AS [hs_code], [customs_value] AS [customs_value], [currency] AS [currency], [duty_amount] AS [duty], [status] AS [status], [notes] AS [notes], [updated_at] AS [updated_at] FROM [dbo].[clearance_records] WHERE [clearance_id] = @P1".to_owned(),
    ];
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&recorded[i], want, "statement {i}");
    }
    // The search term's `%` is a T-SQL bracket escape: no ESCAPE clause, which Babelfish
    // mishandles right after a `%`.
    let pattern = sea_query::Value::from("%ac[%]%");
    assert_eq!(
        r.executor().values.lock().unwrap()[0],
        [pattern.clone(), pattern]
    );
    let all = recorded.join("\n");
    for fragment in [
        "SELECT COUNT(*) AS [total] FROM [dbo].[shipments] WHERE [client_code] = @P1",
        "ORDER BY [shipment_id] DESC OFFSET @P2 ROWS FETCH NEXT @P3 ROWS ONLY",
        "FROM [dbo].[shipments] WHERE [bl_no] = @P1",
        "UPDATE [dbo].[clearance_records] SET [status] = @P1, [notes] = @P2, [updated_at] = @P3 WHERE [clearance_id] = @P4",
        // NULLs are written as NULL, never bound (Babelfish refuses NULL parameters).
        "UPDATE [dbo].[clearance_records] SET [status] = @P1, [notes] = NULL, [updated_at] = @P2 WHERE [clearance_id] = @P3",
        "INSERT INTO [dbo].[shipments] ([bl_no], [client_code], [container_no], [origin_port], [destination_port], [etd], [eta], [status], [updated_at]) OUTPUT INSERTED.[shipment_id] VALUES (@P1, @P2, NULL, @P3, @P4, NULL, NULL, @P5, @P6)",
        // A sync batch after a checkpoint: the rest of its timestamp, then what follows,
        // each one range of the (updated_at, key) index (no OR: that cannot seek).
        "WHERE [updated_at] = @P1 AND [client_code] > @P2 ORDER BY [client_code] ASC OFFSET 0 ROWS FETCH NEXT @P3 ROWS ONLY",
        "WHERE [updated_at] > @P1 ORDER BY [updated_at] ASC, [client_code] ASC OFFSET 0 ROWS FETCH NEXT @P2 ROWS ONLY",
        "FROM [dbo].[clearance_records] ORDER BY [updated_at] ASC, [clearance_id] ASC OFFSET 0 ROWS FETCH NEXT @P1 ROWS ONLY",
    ] {
        assert!(all.contains(fragment), "missing:\n{fragment}\nin:\n{all}");
    }
    assert!(
        !all.contains("LIMIT") && !all.contains("RETURNING") && !all.contains('"'),
        "{all}"
    );
    // The watermark goes as a naive UTC datetime2, the sample column's own type: a
    // datetimeoffset parameter would make the server cast the column, row by row.
    let sync_batch = recorded
        .iter()
        .position(|sql| sql.contains("WHERE [updated_at] = @P1"))
        .unwrap();
    let values = r.executor().values.lock().unwrap()[sync_batch].clone();
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        values,
        vec![
            sea_query::Value::ChronoDateTime(Some(at.naive_utc())),
            "C001".into(),
            sea_query::Value::BigInt(Some(1000)),
        ]
    );
}

/// What the other change detections send: the catalogue check of a `rowversion`
/// cursor, a batch after `(rowversion, key)` capped below the oldest open transaction,
/// and a hash pass's batch in key order, none of them reading `updated_at`.
#[tokio::test]
async fn change_detection_statements_in_tsql() {
    let mapping = LegacyMapping {
        schema: Some("dbo".into()),
        change_detection: ChangeDetections {
            clearance: ChangeDetection::RowVersion("rv".into()),
            shipments: ChangeDetection::Hash,
            ..ChangeDetections::default()
        },
        ..LegacyMapping::default()
    };
    let r = SqlLegacyRepository::new(Recorder::default(), mapping.clone());
    let _ = mapping.check(r.executor()).await;
    let _ = r
        .clearance_by_version("rv", Some((771, 5)), 1000, true)
        .await;
    let _ = r.clearance_by_version("rv", None, 1000, false).await;
    let _ = r.shipments_by_key(Some(5), 1000).await;
    let recorded = r.executor().sql.lock().unwrap().clone();
    let values = r.executor().values.lock().unwrap().clone();
    let clearance = "SELECT [clearance_id] AS [id], [clearance_no] AS [clearance_no], [client_code] AS [client_code], [declaration_date] AS [declaration_date], [hs_code] AS [hs_code], [customs_value] AS [customs_value], [currency] AS [currency], [duty_amount] AS [duty], [status] AS [status], [notes] AS [notes], [rv] AS [row_version] FROM [dbo].[clearance_records]";
    let expected = [
        // The cursor's type, from the catalogue, resolved as the query resolves the name.
        "SELECT CAST(t.name AS NVARCHAR(128)) AS [type_name] FROM [sys].[columns] AS [c] INNER JOIN [sys].[types] AS [t] ON t.user_type_id = c.user_type_id WHERE (c.object_id = OBJECT_ID(@P1)) AND [c].[name] = @P2".to_owned(),
        // After (version, key): the rest of the checkpoint's version, then the higher
        // ones, each capped below the oldest open transaction's version.
        format!("{clearance} WHERE [rv] < (MIN_ACTIVE_ROWVERSION()) AND [rv] = @P1 AND [clearance_id] > @P2 ORDER BY [clearance_id] ASC OFFSET 0 ROWS FETCH NEXT @P3 ROWS ONLY"),
        format!("{clearance} WHERE [rv] < (MIN_ACTIVE_ROWVERSION()) AND [rv] > @P1 ORDER BY [rv] ASC, [clearance_id] ASC OFFSET 0 ROWS FETCH NEXT @P2 ROWS ONLY"),
        format!("{clearance} ORDER BY [rv] ASC, [clearance_id] ASC OFFSET 0 ROWS FETCH NEXT @P1 ROWS ONLY"),
        // A hash pass: key order, no updated_at.
        "SELECT [shipment_id] AS [id], [bl_no] AS [bl_no], [client_code] AS [client_code], [container_no] AS [container_no], [origin_port] AS [origin], [destination_port] AS [destination], [etd] AS [etd], [eta] AS [eta], [status] AS [status] FROM [dbo].[shipments] WHERE [shipment_id] > @P1 ORDER BY [shipment_id] ASC OFFSET 0 ROWS FETCH NEXT @P2 ROWS ONLY".to_owned(),
    ];
    // A column lookup per table, the clearance records' followed by their cursor's type.
    assert_eq!(recorded[2], expected[0]);
    assert_eq!(recorded[4..], expected[1..]);
    assert_eq!(values[2], ["[dbo].[clearance_records]".into(), "rv".into()]);
    // The version goes as 8 big-endian bytes, the column's own type: a BIGINT would
    // make the server convert the column row by row.
    let version = sea_query::Value::Bytes(Some(771_i64.to_be_bytes().to_vec()));
    assert_eq!(values[4], [version, 5_i64.into(), 1000_i64.into()]);
}
