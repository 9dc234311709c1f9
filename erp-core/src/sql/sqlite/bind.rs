//! Converts sea-query values into SQLite values.
//!
//! Our own rather than `sea-query-rusqlite`'s, to fix the storage format: UUIDs as
//! hyphenated text and instants as fixed-width RFC 3339 UTC text (microseconds), so
//! comparisons and `ORDER BY` on the text agree with time order.

use rusqlite::types::Value as Lite;
use sea_query::Value;

use crate::{Error, Result};

/// Fixed-width UTC format: text order is time order.
pub(crate) const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

pub(super) fn to_sqlite(value: Value) -> Result<Lite> {
    fn int<T: Into<i64>>(v: Option<T>) -> Lite {
        v.map_or(Lite::Null, |v| Lite::Integer(v.into()))
    }
    Ok(match value {
        Value::Bool(v) => int(v.map(i64::from)),
        Value::TinyInt(v) => int(v),
        Value::SmallInt(v) => int(v),
        Value::Int(v) => int(v),
        Value::BigInt(v) => int(v),
        Value::TinyUnsigned(v) => int(v),
        Value::SmallUnsigned(v) => int(v),
        Value::Unsigned(v) => int(v),
        Value::BigUnsigned(v) => match v {
            None => Lite::Null,
            Some(v) => Lite::Integer(
                i64::try_from(v).map_err(|_| Error::invalid("value", "integer too large"))?,
            ),
        },
        Value::Float(v) => v.map_or(Lite::Null, |v| Lite::Real(v.into())),
        Value::Double(v) => v.map_or(Lite::Null, Lite::Real),
        Value::String(v) => v.map_or(Lite::Null, Lite::Text),
        Value::Char(v) => v.map_or(Lite::Null, |c| Lite::Text(c.to_string())),
        Value::Bytes(v) => v.map_or(Lite::Null, Lite::Blob),
        Value::Json(v) => v.map_or(Lite::Null, |j| Lite::Text(j.to_string())),
        Value::Uuid(v) => v.map_or(Lite::Null, |u| Lite::Text(u.hyphenated().to_string())),
        Value::ChronoDateTimeUtc(v) => v.map_or(Lite::Null, |t| {
            Lite::Text(t.format(TIMESTAMP_FORMAT).to_string())
        }),
        Value::ChronoDateTime(v) => v.map_or(Lite::Null, |t| {
            Lite::Text(t.and_utc().format(TIMESTAMP_FORMAT).to_string())
        }),
        Value::ChronoDate(v) => {
            v.map_or(Lite::Null, |d| Lite::Text(d.format("%Y-%m-%d").to_string()))
        }
        // Exact: stored as text, never as a binary float.
        Value::Decimal(v) => v.map_or(Lite::Null, |d| Lite::Text(d.to_string())),
        other => {
            return Err(Error::invalid(
                "value",
                format!("type not supported on SQLite: {other:?}"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn instants_are_fixed_width_utc_text() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(
            to_sqlite(Value::ChronoDateTimeUtc(Some(t))).unwrap(),
            Lite::Text("2026-01-02T03:04:05.000000Z".into())
        );
    }

    #[test]
    fn nulls_and_unsigned_overflow() {
        assert_eq!(to_sqlite(Value::String(None)).unwrap(), Lite::Null);
        assert!(to_sqlite(Value::BigUnsigned(Some(u64::MAX))).is_err());
        assert_eq!(
            to_sqlite(Value::Bool(Some(true))).unwrap(),
            Lite::Integer(1)
        );
    }
}
