//! tiberius rows -> owned [`Row`]s. See the type mapping table in the
//! [module documentation](crate::mssql).

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use erp_core::{
    Error, Result,
    sql::{Cell, Row},
};
use tiberius::{Column, ColumnData, ColumnType, FromSql};

/// Picks the rows a call returns from all result sets of a request: the first
/// result set that has rows (an `UPDATE ..; IF @@ROWCOUNT = 0 INSERT .. OUTPUT ..`
/// upsert yields an empty set before the one that matters), or none.
pub(crate) fn decode_result_sets(sets: Vec<Vec<tiberius::Row>>) -> Result<Vec<Row>> {
    let Some(rows) = sets.into_iter().find(|set| !set.is_empty()) else {
        return Ok(Vec::new());
    };
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    // Column names and types are shared by every row of the set.
    let columns: Vec<Column> = first.columns().to_vec();
    let names: Arc<[String]> = columns.iter().map(|c| c.name().to_owned()).collect();
    rows.into_iter()
        .map(|row| decode_row(&names, &columns, row))
        .collect()
}

/// Converts one row, moving its text and bytes instead of copying them.
fn decode_row(names: &Arc<[String]>, columns: &[Column], row: tiberius::Row) -> Result<Row> {
    let cells = columns
        .iter()
        .zip(row)
        .map(|(column, data)| decode_cell(column, data))
        .collect::<Result<Vec<_>>>()?;
    Ok(Row::new(Arc::clone(names), cells))
}

/// Converts one value. Unsupported column types (`sql_variant`, `xml`, CLR types)
/// are a decode error naming the column, even when the value is NULL: selecting
/// them is a query bug to fix with a `CAST`.
pub(crate) fn decode_cell(column: &Column, data: ColumnData<'static>) -> Result<Cell> {
    let fail = |message: String| Error::Decode {
        column: column.name().to_owned(),
        message,
    };
    let ty = column.column_type();
    match ty {
        ColumnType::SSVariant | ColumnType::Xml | ColumnType::Udt => {
            return Err(fail(format!(
                "{ty:?} columns are not supported; CAST the column to a plain type"
            )));
        }
        _ => {}
    }
    let tds = |e: tiberius::error::Error| fail(e.to_string());
    Ok(match data {
        ColumnData::U8(v) => v.map_or(Cell::Null, |v| Cell::Int(v.into())),
        ColumnData::I16(v) => v.map_or(Cell::Null, |v| Cell::Int(v.into())),
        ColumnData::I32(v) => v.map_or(Cell::Null, |v| Cell::Int(v.into())),
        ColumnData::I64(v) => v.map_or(Cell::Null, Cell::Int),
        ColumnData::F32(v) => v.map_or(Cell::Null, |v| Cell::Float(v.into())),
        ColumnData::F64(v) => match (v, ty) {
            (None, _) => Cell::Null,
            // tiberius hands MONEY/SMALLMONEY over as f64; turn it back into the
            // four-decimal text it was (exact up to about 900 billion). Queries should
            // CAST money to DECIMAL(19,4) instead.
            (Some(v), ColumnType::Money | ColumnType::Money4) => {
                Cell::Text(money_text(v).map_err(fail)?)
            }
            (Some(v), _) => Cell::Float(v),
        },
        ColumnData::Bit(v) => v.map_or(Cell::Null, Cell::Bool),
        ColumnData::String(v) => v.map_or(Cell::Null, |s| Cell::Text(s.into_owned())),
        ColumnData::Guid(v) => v.map_or(Cell::Null, Cell::Uuid),
        ColumnData::Binary(v) => v.map_or(Cell::Null, |b| Cell::Bytes(b.into_owned())),
        ColumnData::Numeric(v) => v.map_or(Cell::Null, |n| {
            Cell::Text(decimal_text(n.value(), n.scale()))
        }),
        ColumnData::Xml(_) => {
            return Err(fail(
                "xml values are not supported; CAST to NVARCHAR(MAX)".into(),
            ));
        }
        ColumnData::DateTime(_) | ColumnData::SmallDateTime(_) | ColumnData::DateTime2(_) => {
            // No zone on the server side: the legacy database stores UTC.
            NaiveDateTime::from_sql(&data)
                .map_err(tds)?
                .map_or(Cell::Null, |t| Cell::Timestamp(t.and_utc()))
        }
        // On the wire a datetimeoffset is its UTC date-time plus the offset (MS-TDS
        // 2.2.5.5.1.8). tiberius 0.13's `DateTime<Utc>` conversion subtracts the offset
        // from that UTC value once more (15:09 +02:00 would read as 11:09 UTC); its
        // `DateTime<FixedOffset>` one reads the wire as specified.
        ColumnData::DateTimeOffset(_) => DateTime::<FixedOffset>::from_sql(&data)
            .map_err(tds)?
            .map_or(Cell::Null, |t| Cell::Timestamp(t.with_timezone(&Utc))),
        ColumnData::Date(_) => NaiveDate::from_sql(&data)
            .map_err(tds)?
            .map_or(Cell::Null, |d| Cell::Text(d.format("%Y-%m-%d").to_string())),
        ColumnData::Time(_) => NaiveTime::from_sql(&data)
            .map_err(tds)?
            .map_or(Cell::Null, |t| {
                Cell::Text(t.format("%H:%M:%S%.f").to_string())
            }),
    })
}

/// The exact decimal text of `value * 10^-scale`: `(123456, 2)` -> `"1234.56"`,
/// `(-5, 3)` -> `"-0.005"`. Works for the whole DECIMAL(38, s) range, where
/// `rust_decimal` (28 digits) would overflow.
pub(crate) fn decimal_text(value: i128, scale: u8) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let digits = value.unsigned_abs().to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let digits = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = digits.split_at(digits.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Largest money value (in ten-thousandths) an f64 holds exactly: 2^53.
const MONEY_EXACT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Four-decimal text of a MONEY value tiberius decoded as f64.
pub(crate) fn money_text(value: f64) -> Result<String, String> {
    if !value.is_finite() {
        return Err(format!("{value} is not a money amount"));
    }
    let scaled = (value * 10_000.0).round();
    if scaled.abs() < MONEY_EXACT_LIMIT {
        // Exact: |scaled| < 2^53 is an integer an i128 holds without loss.
        #[allow(clippy::cast_possible_truncation)]
        let units = scaled as i128;
        Ok(decimal_text(units, 4))
    } else {
        // Beyond 2^53 ten-thousandths the f64 already lost digits in the driver.
        Ok(format!("{value:.4}"))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use tiberius::{
        numeric::Numeric,
        time::{Date, DateTime2, DateTimeOffset, SmallDateTime, Time},
    };
    use uuid::Uuid;

    use super::*;

    fn cell(ty: ColumnType, data: ColumnData<'static>) -> Result<Cell> {
        decode_cell(&Column::new("c".into(), ty), data)
    }

    fn ok(ty: ColumnType, data: ColumnData<'static>) -> Cell {
        cell(ty, data).unwrap()
    }

    /// Days from 0001-01-01, as TDS `date` counts them.
    fn days(y: i32, m: u32, d: u32) -> u32 {
        let base = NaiveDate::from_ymd_opt(1, 1, 1).unwrap();
        let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        u32::try_from((date - base).num_days()).unwrap()
    }

    #[test]
    fn integers_floats_bits() {
        assert_eq!(
            ok(ColumnType::Int1, ColumnData::U8(Some(255))),
            Cell::Int(255)
        );
        assert_eq!(
            ok(ColumnType::Int2, ColumnData::I16(Some(-2))),
            Cell::Int(-2)
        );
        assert_eq!(
            ok(ColumnType::Int4, ColumnData::I32(Some(42))),
            Cell::Int(42)
        );
        assert_eq!(
            ok(ColumnType::Int8, ColumnData::I64(Some(i64::MAX))),
            Cell::Int(i64::MAX)
        );
        assert_eq!(
            ok(ColumnType::Float4, ColumnData::F32(Some(0.5))),
            Cell::Float(0.5)
        );
        assert_eq!(
            ok(ColumnType::Float8, ColumnData::F64(Some(2.5))),
            Cell::Float(2.5)
        );
        assert_eq!(
            ok(ColumnType::Bitn, ColumnData::Bit(Some(true))),
            Cell::Bool(true)
        );
    }

    #[test]
    fn nulls_of_every_type() {
        let cases: Vec<(ColumnType, ColumnData<'static>)> = vec![
            (ColumnType::Int1, ColumnData::U8(None)),
            (ColumnType::Int2, ColumnData::I16(None)),
            (ColumnType::Int4, ColumnData::I32(None)),
            (ColumnType::Int8, ColumnData::I64(None)),
            (ColumnType::Float4, ColumnData::F32(None)),
            (ColumnType::Float8, ColumnData::F64(None)),
            (ColumnType::Money, ColumnData::F64(None)),
            (ColumnType::Bitn, ColumnData::Bit(None)),
            (ColumnType::NVarchar, ColumnData::String(None)),
            (ColumnType::Guid, ColumnData::Guid(None)),
            (ColumnType::BigVarBin, ColumnData::Binary(None)),
            (ColumnType::Decimaln, ColumnData::Numeric(None)),
            (ColumnType::Datetimen, ColumnData::DateTime(None)),
            (ColumnType::Datetime4, ColumnData::SmallDateTime(None)),
            (ColumnType::Datetime2, ColumnData::DateTime2(None)),
            (
                ColumnType::DatetimeOffsetn,
                ColumnData::DateTimeOffset(None),
            ),
            (ColumnType::Daten, ColumnData::Date(None)),
            (ColumnType::Timen, ColumnData::Time(None)),
            (ColumnType::Null, ColumnData::I32(None)),
        ];
        for (ty, data) in cases {
            assert_eq!(ok(ty, data.clone()), Cell::Null, "{ty:?} {data:?}");
        }
    }

    #[test]
    fn text_guid_binary() {
        for ty in [
            ColumnType::NVarchar,
            ColumnType::BigVarChar,
            ColumnType::NChar,
            ColumnType::BigChar,
            ColumnType::Text,
            ColumnType::NText,
        ] {
            assert_eq!(
                ok(ty, ColumnData::String(Some(Cow::Borrowed("héllo")))),
                Cell::Text("héllo".into())
            );
        }
        let id = Uuid::now_v7();
        assert_eq!(
            ok(ColumnType::Guid, ColumnData::Guid(Some(id))),
            Cell::Uuid(id)
        );
        for ty in [
            ColumnType::BigVarBin,
            ColumnType::BigBinary,
            ColumnType::Image,
        ] {
            assert_eq!(
                ok(ty, ColumnData::Binary(Some(Cow::Owned(vec![0, 7, 255])))),
                Cell::Bytes(vec![0, 7, 255])
            );
        }
    }

    #[test]
    fn decimals_are_exact_text() {
        let n = |v: i128, s: u8| ColumnData::Numeric(Some(Numeric::new_with_scale(v, s)));
        assert_eq!(
            ok(ColumnType::Decimaln, n(12_345_600, 4)),
            Cell::Text("1234.5600".into())
        );
        assert_eq!(
            ok(ColumnType::Numericn, n(-5, 3)),
            Cell::Text("-0.005".into())
        );
        assert_eq!(ok(ColumnType::Decimaln, n(42, 0)), Cell::Text("42".into()));
        assert_eq!(ok(ColumnType::Decimaln, n(0, 2)), Cell::Text("0.00".into()));
        // DECIMAL(38, 10) at its limit: beyond rust_decimal, still exact.
        let max = 10_i128.pow(38) - 1;
        assert_eq!(
            ok(ColumnType::Decimaln, n(-max, 10)),
            Cell::Text("-9999999999999999999999999999.9999999999".into())
        );
        // Same text as rust_decimal wherever rust_decimal can hold the value.
        for (v, s) in [(1i128, 28u8), (-123_456_789, 5), (10, 1), (7, 0)] {
            let dec = rust_decimal::Decimal::from_i128_with_scale(v, u32::from(s));
            assert_eq!(decimal_text(v, s), dec.to_string(), "{v} e-{s}");
        }
    }

    #[test]
    fn money_arrives_as_f64_and_leaves_as_four_decimals() {
        assert_eq!(
            ok(ColumnType::Money, ColumnData::F64(Some(1234.56))),
            Cell::Text("1234.5600".into())
        );
        assert_eq!(
            ok(ColumnType::Money4, ColumnData::F64(Some(-0.0001))),
            Cell::Text("-0.0001".into())
        );
        // What tiberius computes for MONEY 922,337,203.4477 (raw 9223372034477).
        let raw: i64 = 9_223_372_034_477;
        #[allow(clippy::cast_precision_loss)]
        let as_driver = raw as f64 / 1e4;
        assert_eq!(money_text(as_driver).unwrap(), "922337203.4477");
        assert!(money_text(f64::NAN).is_err());
        let err = cell(ColumnType::Money, ColumnData::F64(Some(f64::INFINITY))).unwrap_err();
        assert!(err.to_string().contains("column c"), "{err}");
        // A FLOAT column with the same value stays a float.
        assert_eq!(
            ok(ColumnType::Floatn, ColumnData::F64(Some(0.1))),
            Cell::Float(0.1)
        );
    }

    #[test]
    fn dates_and_times() {
        let day = days(2026, 3, 14);
        // 15:09:26.5358979 as 100 ns increments at scale 7.
        let time = Time::new(545_665_358_979, 7);
        let want = NaiveDate::from_ymd_opt(2026, 3, 14)
            .unwrap()
            .and_hms_nano_opt(15, 9, 26, 535_897_900)
            .unwrap()
            .and_utc();
        assert_eq!(
            ok(
                ColumnType::Datetime2,
                ColumnData::DateTime2(Some(DateTime2::new(Date::new(day), time)))
            ),
            Cell::Timestamp(want)
        );
        // The wire holds the UTC date-time; the offset (+02:00) only says where it was
        // written, so the instant is the wire value itself.
        let dto = DateTimeOffset::new(DateTime2::new(Date::new(day), time), 120);
        assert_eq!(
            ok(
                ColumnType::DatetimeOffsetn,
                ColumnData::DateTimeOffset(Some(dto))
            ),
            Cell::Timestamp(want)
        );
        assert_eq!(
            ok(ColumnType::Daten, ColumnData::Date(Some(Date::new(day)))),
            Cell::Text("2026-03-14".into())
        );
        assert_eq!(
            ok(ColumnType::Timen, ColumnData::Time(Some(time))),
            Cell::Text("15:09:26.535897900".into())
        );
        assert_eq!(
            ok(ColumnType::Timen, ColumnData::Time(Some(Time::new(0, 0)))),
            Cell::Text("00:00:00".into())
        );
        // DATETIME: days since 1900-01-01 and 1/300 s; 2000-01-01 12:00:00.
        let dt = tiberius::time::DateTime::new(36_524, 12 * 3600 * 300);
        assert_eq!(
            ok(ColumnType::Datetimen, ColumnData::DateTime(Some(dt))),
            Cell::Timestamp(
                NaiveDate::from_ymd_opt(2000, 1, 1)
                    .unwrap()
                    .and_hms_opt(12, 0, 0)
                    .unwrap()
                    .and_utc()
            )
        );
        // SMALLDATETIME: days since 1900-01-01 and minutes.
        let sdt = SmallDateTime::new(36_524, 90);
        assert_eq!(
            ok(ColumnType::Datetime4, ColumnData::SmallDateTime(Some(sdt))),
            Cell::Timestamp(
                NaiveDate::from_ymd_opt(2000, 1, 1)
                    .unwrap()
                    .and_hms_opt(1, 30, 0)
                    .unwrap()
                    .and_utc()
            )
        );
    }

    #[test]
    fn unsupported_types_are_decode_errors_naming_the_column() {
        for (ty, data) in [
            (ColumnType::SSVariant, ColumnData::I32(Some(1))),
            (ColumnType::SSVariant, ColumnData::String(None)),
            (ColumnType::Xml, ColumnData::Xml(None)),
            (ColumnType::Udt, ColumnData::Binary(Some(vec![1].into()))),
        ] {
            let err = decode_cell(&Column::new("weird".into(), ty), data).unwrap_err();
            match &err {
                Error::Decode { column, .. } => assert_eq!(column, "weird"),
                other => panic!("{other:?}"),
            }
        }
        // An xml value under some other column type is refused too.
        assert!(cell(ColumnType::NVarchar, ColumnData::Xml(None)).is_err());
        // A malformed datetimeoffset (offset beyond ±14:00) is an error, not a panic.
        let bad = DateTimeOffset::new(DateTime2::new(Date::new(1), Time::new(0, 7)), 2000);
        assert!(
            cell(
                ColumnType::DatetimeOffsetn,
                ColumnData::DateTimeOffset(Some(bad))
            )
            .is_err()
        );
    }

    #[test]
    fn result_sets_share_column_names() {
        let row = |id: i32, name: &'static str| {
            tiberius::Row::builder()
                .column("id", ColumnType::Int4, ColumnData::I32(Some(id)))
                .column(
                    "name",
                    ColumnType::NVarchar,
                    ColumnData::String(Some(name.into())),
                )
                .build()
        };
        let rows = decode_result_sets(vec![vec![], vec![row(1, "a"), row(2, "b")]]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].columns(), ["id", "name"]);
        assert_eq!(rows[1].get::<i64>("id").unwrap(), 2);
        assert_eq!(rows[0].get::<String>("name").unwrap(), "a");
        assert!(decode_result_sets(vec![]).unwrap().is_empty());
        assert!(decode_result_sets(vec![vec![]]).unwrap().is_empty());
    }
}
