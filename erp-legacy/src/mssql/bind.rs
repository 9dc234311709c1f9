//! `sea_query::Value` -> tiberius parameters.
//!
//! Values are first converted to [`Param`] (checked, before a connection is taken:
//! a bad value never costs a round trip), then bound to a `tiberius::Query` as
//! `ColumnData`. A `None` keeps its type where tiberius can say it (integers, bit,
//! float are sent as typed NULLs); other NULLs go on the wire as TDS NULLTYPE,
//! which SQL Server accepts.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use erp_core::{Error, Result};
use rust_decimal::Decimal;
use sea_query::{OptionEnum, Value};
use tiberius::{ColumnData, IntoSql};
use uuid::Uuid;

/// One parameter, in the SQL Server type it is sent as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    /// `bit`.
    Bool(Option<bool>),
    /// `tinyint` (0..=255, as in SQL Server).
    U8(Option<u8>),
    /// `smallint`.
    I16(Option<i16>),
    /// `int`.
    I32(Option<i32>),
    /// `bigint`.
    I64(Option<i64>),
    /// `real`.
    F32(Option<f32>),
    /// `float`.
    F64(Option<f64>),
    /// `nvarchar(4000)` / `nvarchar(max)`: tiberius sends every string as Unicode.
    NVarChar(Option<String>),
    /// `varbinary`.
    Binary(Option<Vec<u8>>),
    /// `uniqueidentifier`.
    Guid(Option<Uuid>),
    /// `date`.
    Date(Option<NaiveDate>),
    /// `time(7)`.
    Time(Option<NaiveTime>),
    /// `datetime2(7)`, no zone.
    DateTime2(Option<NaiveDateTime>),
    /// `datetimeoffset(7)`: an instant with its offset.
    DateTimeOffset(Option<DateTime<FixedOffset>>),
    /// `numeric(p, s)`, exact.
    Decimal(Option<Decimal>),
}

impl Param {
    /// The tiberius value to bind.
    pub(crate) fn into_column_data(self) -> ColumnData<'static> {
        match self {
            Param::Bool(v) => v.into_sql(),
            Param::U8(v) => v.into_sql(),
            Param::I16(v) => v.into_sql(),
            Param::I32(v) => v.into_sql(),
            Param::I64(v) => v.into_sql(),
            Param::F32(v) => v.into_sql(),
            Param::F64(v) => v.into_sql(),
            Param::NVarChar(v) => ColumnData::String(v.map(Cow::Owned)),
            Param::Binary(v) => ColumnData::Binary(v.map(Cow::Owned)),
            Param::Guid(v) => v.into_sql(),
            Param::Date(v) => v.into_sql(),
            Param::Time(v) => v.into_sql(),
            Param::DateTime2(v) => v.into_sql(),
            Param::DateTimeOffset(v) => v.into_sql(),
            Param::Decimal(v) => v.into_sql(),
        }
    }
}

/// Converts the value bound to placeholder `@P{position}` (1-based).
///
/// SQL Server has no unsigned types beyond `tinyint` and tiberius no `ToSql` for
/// `i8`/`u16`/`u32`/`u64`: signed 8-bit values widen to `smallint`, `u16`/`u32` to
/// `bigint`, and a `u64` above `i64::MAX` is [`Error::InvalidInput`]. UTC instants
/// go as `datetimeoffset` (+00:00) so no zone is ever guessed; JSON goes as its text.
pub(crate) fn to_param(position: usize, value: Value) -> Result<Param> {
    Ok(match value {
        Value::Bool(v) => Param::Bool(v),
        Value::TinyInt(v) => Param::I16(v.map(i16::from)),
        Value::SmallInt(v) => Param::I16(v),
        Value::Int(v) => Param::I32(v),
        Value::BigInt(v) => Param::I64(v),
        Value::TinyUnsigned(v) => Param::U8(v),
        Value::SmallUnsigned(v) => Param::I64(v.map(i64::from)),
        Value::Unsigned(v) => Param::I64(v.map(i64::from)),
        Value::BigUnsigned(v) => Param::I64(
            v.map(|u| {
                i64::try_from(u).map_err(|_| {
                    Error::invalid(
                        format!("parameter @P{position}"),
                        format!("{u} does not fit in a SQL Server bigint"),
                    )
                })
            })
            .transpose()?,
        ),
        Value::Float(v) => Param::F32(v),
        Value::Double(v) => Param::F64(v),
        Value::String(v) => Param::NVarChar(v),
        Value::Char(v) => Param::NVarChar(v.map(String::from)),
        Value::Enum(OptionEnum::Some(e)) => Param::NVarChar(Some(e.value.into_owned())),
        Value::Enum(OptionEnum::None(_)) => Param::NVarChar(None),
        Value::Bytes(v) => Param::Binary(v),
        Value::Json(v) => Param::NVarChar(v.map(|j| j.to_string())),
        Value::ChronoDate(v) => Param::Date(v),
        Value::ChronoTime(v) => Param::Time(v),
        Value::ChronoDateTime(v) => Param::DateTime2(v),
        Value::ChronoDateTimeUtc(v) => Param::DateTimeOffset(v.map(|t| t.fixed_offset())),
        Value::ChronoDateTimeLocal(v) => Param::DateTimeOffset(v.map(|t| t.fixed_offset())),
        Value::ChronoDateTimeWithTimeZone(v) => Param::DateTimeOffset(v),
        Value::Uuid(v) => Param::Guid(v),
        Value::Decimal(v) => Param::Decimal(v),
        // sea-query features are unified across the workspace: a variant another crate
        // turns on (time, jiff, arrays, ...) is refused here instead of breaking the build.
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::invalid(
                format!("parameter @P{position}"),
                format!(
                    "{} values are not supported on SQL Server",
                    variant_name(&other)
                ),
            ));
        }
    })
}

/// Converts all values of a rendered statement, in placeholder order.
pub(crate) fn to_params(values: sea_query::Values) -> Result<Vec<Param>> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| to_param(i + 1, v))
        .collect()
}

/// The variant name of a value, for the error message (never the value itself).
fn variant_name(value: &Value) -> String {
    let debug = format!("{value:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or("this kind of")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use sea_query::{Enum, EnumTypeName};

    use super::*;

    fn p(value: Value) -> Param {
        to_param(1, value).unwrap()
    }

    #[test]
    fn every_variant_maps() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 14).unwrap();
        let time = NaiveTime::from_hms_micro_opt(15, 9, 26, 535_897).unwrap();
        let naive = date.and_time(time);
        let utc = Utc.from_utc_datetime(&naive);
        let offset = FixedOffset::east_opt(2 * 3600)
            .unwrap()
            .from_utc_datetime(&naive);
        let id = Uuid::now_v7();
        let dec: Decimal = "1234.5600".parse().unwrap();
        let json = serde_json::json!({"a": [1, 2]});
        let cases: Vec<(Value, Param)> = vec![
            (Value::Bool(Some(true)), Param::Bool(Some(true))),
            (Value::TinyInt(Some(-8)), Param::I16(Some(-8))),
            (Value::SmallInt(Some(-300)), Param::I16(Some(-300))),
            (Value::Int(Some(7)), Param::I32(Some(7))),
            (Value::BigInt(Some(i64::MIN)), Param::I64(Some(i64::MIN))),
            (Value::TinyUnsigned(Some(255)), Param::U8(Some(255))),
            (Value::SmallUnsigned(Some(65_535)), Param::I64(Some(65_535))),
            (
                Value::Unsigned(Some(u32::MAX)),
                Param::I64(Some(4_294_967_295)),
            ),
            (
                Value::BigUnsigned(Some(i64::MAX as u64)),
                Param::I64(Some(i64::MAX)),
            ),
            (Value::Float(Some(1.5)), Param::F32(Some(1.5))),
            (Value::Double(Some(2.25)), Param::F64(Some(2.25))),
            (
                Value::String(Some("zß€".into())),
                Param::NVarChar(Some("zß€".into())),
            ),
            (Value::Char(Some('é')), Param::NVarChar(Some("é".into()))),
            (
                Value::Enum(OptionEnum::Some(Box::new(Enum {
                    type_name: EnumTypeName::from("mood"),
                    value: "happy".into(),
                }))),
                Param::NVarChar(Some("happy".into())),
            ),
            (
                Value::Bytes(Some(vec![0, 1, 255])),
                Param::Binary(Some(vec![0, 1, 255])),
            ),
            (
                Value::Json(Some(Box::new(json.clone()))),
                Param::NVarChar(Some(json.to_string())),
            ),
            (Value::ChronoDate(Some(date)), Param::Date(Some(date))),
            (Value::ChronoTime(Some(time)), Param::Time(Some(time))),
            (
                Value::ChronoDateTime(Some(naive)),
                Param::DateTime2(Some(naive)),
            ),
            (
                Value::ChronoDateTimeUtc(Some(utc)),
                Param::DateTimeOffset(Some(utc.fixed_offset())),
            ),
            (
                Value::ChronoDateTimeWithTimeZone(Some(offset)),
                Param::DateTimeOffset(Some(offset)),
            ),
            (Value::Uuid(Some(id)), Param::Guid(Some(id))),
            (Value::Decimal(Some(dec)), Param::Decimal(Some(dec))),
        ];
        for (value, want) in cases {
            assert_eq!(p(value.clone()), want, "{value:?}");
        }
        let local = p(Value::ChronoDateTimeLocal(Some(
            utc.with_timezone(&chrono::Local),
        )));
        match local {
            Param::DateTimeOffset(Some(t)) => assert_eq!(t, utc),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nulls_keep_their_type() {
        let cases: Vec<(Value, Param)> = vec![
            (Value::Bool(None), Param::Bool(None)),
            (Value::TinyInt(None), Param::I16(None)),
            (Value::SmallInt(None), Param::I16(None)),
            (Value::Int(None), Param::I32(None)),
            (Value::BigInt(None), Param::I64(None)),
            (Value::TinyUnsigned(None), Param::U8(None)),
            (Value::SmallUnsigned(None), Param::I64(None)),
            (Value::Unsigned(None), Param::I64(None)),
            (Value::BigUnsigned(None), Param::I64(None)),
            (Value::Float(None), Param::F32(None)),
            (Value::Double(None), Param::F64(None)),
            (Value::String(None), Param::NVarChar(None)),
            (Value::Char(None), Param::NVarChar(None)),
            (
                Value::Enum(OptionEnum::None(EnumTypeName::from("mood"))),
                Param::NVarChar(None),
            ),
            (Value::Bytes(None), Param::Binary(None)),
            (Value::Json(None), Param::NVarChar(None)),
            (Value::ChronoDate(None), Param::Date(None)),
            (Value::ChronoTime(None), Param::Time(None)),
            (Value::ChronoDateTime(None), Param::DateTime2(None)),
            (Value::ChronoDateTimeUtc(None), Param::DateTimeOffset(None)),
            (
                Value::ChronoDateTimeLocal(None),
                Param::DateTimeOffset(None),
            ),
            (
                Value::ChronoDateTimeWithTimeZone(None),
                Param::DateTimeOffset(None),
            ),
            (Value::Uuid(None), Param::Guid(None)),
            (Value::Decimal(None), Param::Decimal(None)),
        ];
        for (value, want) in cases {
            assert_eq!(p(value.clone()), want, "{value:?}");
            // Typed NULLs stay typed on the tiberius side too.
            let data = want.into_column_data();
            assert!(format!("{data:?}").ends_with("(None)"), "{data:?}");
        }
    }

    #[test]
    fn big_unsigned_overflow_is_invalid_input() {
        let err = to_param(3, Value::BigUnsigned(Some(u64::MAX))).unwrap_err();
        match err {
            Error::InvalidInput { field, message } => {
                assert_eq!(field, "parameter @P3");
                assert!(message.contains("18446744073709551615"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let err = to_params(sea_query::Values(vec![
            Value::Int(Some(1)),
            Value::BigUnsigned(Some(1 << 63)),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("@P2"), "{err}");
    }

    #[test]
    fn params_become_the_expected_column_data() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        assert_eq!(
            Param::I32(Some(5)).into_column_data(),
            ColumnData::I32(Some(5))
        );
        assert_eq!(
            Param::U8(Some(5)).into_column_data(),
            ColumnData::U8(Some(5))
        );
        assert_eq!(
            Param::NVarChar(Some("x".into())).into_column_data(),
            ColumnData::String(Some("x".into()))
        );
        assert_eq!(
            Param::Binary(Some(vec![1])).into_column_data(),
            ColumnData::Binary(Some(vec![1].into()))
        );
        assert!(matches!(
            Param::Date(Some(date)).into_column_data(),
            ColumnData::Date(Some(_))
        ));
        assert!(matches!(
            Param::DateTime2(Some(date.and_hms_opt(1, 2, 3).unwrap())).into_column_data(),
            ColumnData::DateTime2(Some(_))
        ));
        let utc = Utc.from_utc_datetime(&date.and_hms_opt(1, 2, 3).unwrap());
        match Param::DateTimeOffset(Some(utc.fixed_offset())).into_column_data() {
            ColumnData::DateTimeOffset(Some(dto)) => assert_eq!(dto.offset(), 0),
            other => panic!("{other:?}"),
        }
        match Param::Decimal(Some("-1234.5600".parse().unwrap())).into_column_data() {
            ColumnData::Numeric(Some(n)) => {
                assert_eq!(n.value(), -12_345_600);
                assert_eq!(n.scale(), 4);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Param::Time(Some(NaiveTime::from_hms_opt(1, 2, 3).unwrap())).into_column_data(),
            ColumnData::Time(Some(_))
        ));
    }
}
