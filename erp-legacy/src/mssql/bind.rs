//! `sea_query::Value` -> tiberius parameters.
//!
//! Values are first converted to [`Param`] (checked, before a connection is taken:
//! a bad value never costs a round trip), then bound to a `tiberius::Query` as
//! `ColumnData`. A [`Param`] is never NULL: tiberius would send a `None` string, binary,
//! decimal or date/time as TDS NULLTYPE (0x1F), which Babelfish (Aurora) refuses with
//! error 8009. NULLs are written into the statement text instead
//! ([`crate::tsql::inline_nulls`]) before the values get here.

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
    Bool(bool),
    /// `tinyint` (0..=255, as in SQL Server).
    U8(u8),
    /// `smallint`.
    I16(i16),
    /// `int`.
    I32(i32),
    /// `bigint`.
    I64(i64),
    /// `real`.
    F32(f32),
    /// `float`.
    F64(f64),
    /// `nvarchar(4000)` / `nvarchar(max)`: tiberius sends every string as Unicode.
    NVarChar(String),
    /// `varbinary`.
    Binary(Vec<u8>),
    /// `uniqueidentifier`.
    Guid(Uuid),
    /// `date`.
    Date(NaiveDate),
    /// `time(7)`.
    Time(NaiveTime),
    /// `datetime2(7)`, no zone.
    DateTime2(NaiveDateTime),
    /// `datetimeoffset(7)`: an instant with its offset.
    DateTimeOffset(DateTime<FixedOffset>),
    /// `numeric(p, s)`, exact.
    Decimal(Decimal),
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
            Param::NVarChar(v) => ColumnData::String(Some(Cow::Owned(v))),
            Param::Binary(v) => ColumnData::Binary(Some(Cow::Owned(v))),
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
/// A NULL is refused: it belongs in the statement text (see the module docs).
pub(crate) fn to_param(position: usize, value: Value) -> Result<Param> {
    let null = || {
        Error::invalid(
            format!("parameter @P{position}"),
            "a NULL must be written into the statement (tsql::inline_nulls), not bound",
        )
    };
    Ok(match value {
        Value::Bool(v) => Param::Bool(v.ok_or_else(null)?),
        Value::TinyInt(v) => Param::I16(v.ok_or_else(null)?.into()),
        Value::SmallInt(v) => Param::I16(v.ok_or_else(null)?),
        Value::Int(v) => Param::I32(v.ok_or_else(null)?),
        Value::BigInt(v) => Param::I64(v.ok_or_else(null)?),
        Value::TinyUnsigned(v) => Param::U8(v.ok_or_else(null)?),
        Value::SmallUnsigned(v) => Param::I64(v.ok_or_else(null)?.into()),
        Value::Unsigned(v) => Param::I64(v.ok_or_else(null)?.into()),
        Value::BigUnsigned(v) => {
            let u = v.ok_or_else(null)?;
            Param::I64(i64::try_from(u).map_err(|_| {
                Error::invalid(
                    format!("parameter @P{position}"),
                    format!("{u} does not fit in a SQL Server bigint"),
                )
            })?)
        }
        Value::Float(v) => Param::F32(v.ok_or_else(null)?),
        Value::Double(v) => Param::F64(v.ok_or_else(null)?),
        Value::String(v) => Param::NVarChar(v.ok_or_else(null)?),
        Value::Char(v) => Param::NVarChar(v.ok_or_else(null)?.into()),
        Value::Enum(OptionEnum::Some(e)) => Param::NVarChar(e.value.into_owned()),
        Value::Enum(OptionEnum::None(_)) => return Err(null()),
        Value::Bytes(v) => Param::Binary(v.ok_or_else(null)?),
        Value::Json(v) => Param::NVarChar(v.ok_or_else(null)?.to_string()),
        Value::ChronoDate(v) => Param::Date(v.ok_or_else(null)?),
        Value::ChronoTime(v) => Param::Time(v.ok_or_else(null)?),
        Value::ChronoDateTime(v) => Param::DateTime2(v.ok_or_else(null)?),
        Value::ChronoDateTimeUtc(v) => Param::DateTimeOffset(v.ok_or_else(null)?.fixed_offset()),
        Value::ChronoDateTimeLocal(v) => Param::DateTimeOffset(v.ok_or_else(null)?.fixed_offset()),
        Value::ChronoDateTimeWithTimeZone(v) => Param::DateTimeOffset(v.ok_or_else(null)?),
        Value::Uuid(v) => Param::Guid(v.ok_or_else(null)?),
        Value::Decimal(v) => Param::Decimal(v.ok_or_else(null)?),
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
            (Value::Bool(Some(true)), Param::Bool(true)),
            (Value::TinyInt(Some(-8)), Param::I16(-8)),
            (Value::SmallInt(Some(-300)), Param::I16(-300)),
            (Value::Int(Some(7)), Param::I32(7)),
            (Value::BigInt(Some(i64::MIN)), Param::I64(i64::MIN)),
            (Value::TinyUnsigned(Some(255)), Param::U8(255)),
            (Value::SmallUnsigned(Some(65_535)), Param::I64(65_535)),
            (Value::Unsigned(Some(u32::MAX)), Param::I64(4_294_967_295)),
            (
                Value::BigUnsigned(Some(i64::MAX as u64)),
                Param::I64(i64::MAX),
            ),
            (Value::Float(Some(1.5)), Param::F32(1.5)),
            (Value::Double(Some(2.25)), Param::F64(2.25)),
            (
                Value::String(Some("zß€".into())),
                Param::NVarChar("zß€".into()),
            ),
            (Value::Char(Some('é')), Param::NVarChar("é".into())),
            (
                Value::Enum(OptionEnum::Some(Box::new(Enum {
                    type_name: EnumTypeName::from("mood"),
                    value: "happy".into(),
                }))),
                Param::NVarChar("happy".into()),
            ),
            (
                Value::Bytes(Some(vec![0, 1, 255])),
                Param::Binary(vec![0, 1, 255]),
            ),
            (
                Value::Json(Some(Box::new(json.clone()))),
                Param::NVarChar(json.to_string()),
            ),
            (Value::ChronoDate(Some(date)), Param::Date(date)),
            (Value::ChronoTime(Some(time)), Param::Time(time)),
            (Value::ChronoDateTime(Some(naive)), Param::DateTime2(naive)),
            (
                Value::ChronoDateTimeUtc(Some(utc)),
                Param::DateTimeOffset(utc.fixed_offset()),
            ),
            (
                Value::ChronoDateTimeWithTimeZone(Some(offset)),
                Param::DateTimeOffset(offset),
            ),
            (Value::Uuid(Some(id)), Param::Guid(id)),
            (Value::Decimal(Some(dec)), Param::Decimal(dec)),
        ];
        for (value, want) in cases {
            assert_eq!(p(value.clone()), want, "{value:?}");
        }
        let local = p(Value::ChronoDateTimeLocal(Some(
            utc.with_timezone(&chrono::Local),
        )));
        match local {
            Param::DateTimeOffset(t) => assert_eq!(t, utc),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nulls_are_never_bound() {
        let nulls = [
            Value::Bool(None),
            Value::TinyInt(None),
            Value::SmallInt(None),
            Value::Int(None),
            Value::BigInt(None),
            Value::TinyUnsigned(None),
            Value::SmallUnsigned(None),
            Value::Unsigned(None),
            Value::BigUnsigned(None),
            Value::Float(None),
            Value::Double(None),
            Value::String(None),
            Value::Char(None),
            Value::Enum(OptionEnum::None(EnumTypeName::from("mood"))),
            Value::Bytes(None),
            Value::Json(None),
            Value::ChronoDate(None),
            Value::ChronoTime(None),
            Value::ChronoDateTime(None),
            Value::ChronoDateTimeUtc(None),
            Value::ChronoDateTimeLocal(None),
            Value::ChronoDateTimeWithTimeZone(None),
            Value::Uuid(None),
            Value::Decimal(None),
        ];
        for value in nulls {
            match to_param(4, value.clone()) {
                Err(Error::InvalidInput { field, message }) => {
                    assert_eq!(field, "parameter @P4");
                    assert!(message.contains("inline_nulls"), "{message}");
                }
                other => panic!("{value:?}: {other:?}"),
            }
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
        assert_eq!(Param::I32(5).into_column_data(), ColumnData::I32(Some(5)));
        assert_eq!(Param::U8(5).into_column_data(), ColumnData::U8(Some(5)));
        assert_eq!(
            Param::NVarChar("x".into()).into_column_data(),
            ColumnData::String(Some("x".into()))
        );
        assert_eq!(
            Param::Binary(vec![1]).into_column_data(),
            ColumnData::Binary(Some(vec![1].into()))
        );
        assert!(matches!(
            Param::Date(date).into_column_data(),
            ColumnData::Date(Some(_))
        ));
        assert!(matches!(
            Param::DateTime2(date.and_hms_opt(1, 2, 3).unwrap()).into_column_data(),
            ColumnData::DateTime2(Some(_))
        ));
        let utc = Utc.from_utc_datetime(&date.and_hms_opt(1, 2, 3).unwrap());
        match Param::DateTimeOffset(utc.fixed_offset()).into_column_data() {
            ColumnData::DateTimeOffset(Some(dto)) => assert_eq!(dto.offset(), 0),
            other => panic!("{other:?}"),
        }
        match Param::Decimal("-1234.5600".parse().unwrap()).into_column_data() {
            ColumnData::Numeric(Some(n)) => {
                assert_eq!(n.value(), -12_345_600);
                assert_eq!(n.scale(), 4);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Param::Time(NaiveTime::from_hms_opt(1, 2, 3).unwrap()).into_column_data(),
            ColumnData::Time(Some(_))
        ));
    }
}
