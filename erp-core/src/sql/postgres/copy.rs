//! [`Executor::upsert_rows`](crate::sql::Executor::upsert_rows) on PostgreSQL: binary
//! `COPY` into a temporary table, then one `INSERT .. SELECT .. ON CONFLICT`.
//!
//! A multi-row `INSERT` makes the server parse and plan a statement with one parameter
//! per value; `COPY` streams the rows in the columns' binary form instead, and the one
//! merging statement runs over a table. The temporary table is dropped at commit, so
//! nothing outlives the transaction, whatever connection of the pool runs it.

use std::{error::Error as StdError, pin::pin};

use bytes::{BufMut, BytesMut};
use deadpool_postgres::{GenericClient, Transaction};
use futures_util::SinkExt;
use rust_decimal::Decimal;
use sea_query::{OptionEnum, Value};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::executor::Fail;
use crate::{Error, sql::UpsertRows};

/// The staging table; temporary tables live in their own schema, which is searched
/// first, so the name must never be one of ours.
const STAGE: &str = "erp_upsert_stage";

/// Bytes of rows handed to the connection at a time. The driver's own
/// `BinaryCopyInWriter` hands over every 4 KiB and waits each time for the connection
/// task to take it, and those hand-overs cost more than encoding the rows.
const CHUNK: usize = 512 * 1024;

/// Copies `rows` into their table inside `tx`; returns the rows written.
pub(super) async fn upsert(tx: &Transaction<'_>, rows: &UpsertRows) -> Result<u64, Fail> {
    if rows.is_empty() {
        return Ok(0);
    }
    let table = ident(rows.table());
    let names: Vec<String> = rows.columns().iter().map(|c| ident(c)).collect();
    let columns = names.join(", ");
    // The binary format is the column's own: ask the target table for its types (a
    // prepared statement, so once per connection).
    let types: Vec<Type> = tx
        .prepare_cached(&format!("SELECT {columns} FROM {table}"))
        .await?
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    tx.batch_execute(&format!(
        "CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA"
    ))
    .await?;
    let sink = tx
        .copy_in(&format!(
            "COPY {STAGE} ({columns}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let mut sink = pin!(sink);
    let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 8);
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_i32(0); // flags
    buf.put_i32(0); // header extension
    for row in rows.rows() {
        encode_row(&mut buf, row, rows.columns(), &types).map_err(Fail::Encode)?;
        if buf.len() >= CHUNK {
            sink.as_mut().send(buf.split().freeze()).await?;
        }
    }
    buf.put_i16(-1); // end of data
    sink.as_mut().send(buf.split().freeze()).await?;
    sink.as_mut().finish().await?;
    let key = ident(rows.key());
    let updates: Vec<String> = names
        .iter()
        .filter(|c| **c != key)
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let action = if updates.is_empty() {
        "NOTHING".to_owned()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    };
    let merge = format!(
        "INSERT INTO {table} ({columns}) SELECT {columns} FROM {STAGE} ON CONFLICT ({key}) DO {action}"
    );
    Ok(tx.execute(merge.as_str(), &[]).await?)
}

/// One tuple of the binary `COPY` format: the field count, then each field's length
/// (-1 for NULL) and bytes.
fn encode_row(
    buf: &mut BytesMut,
    row: &[Value],
    columns: &[String],
    types: &[Type],
) -> Result<(), Error> {
    let width = i16::try_from(types.len())
        .map_err(|_| Error::invalid("columns", "more columns than COPY allows"))?;
    buf.put_i16(width);
    for ((value, column), ty) in row.iter().zip(columns).zip(types) {
        let at = buf.len();
        buf.put_i32(0);
        let len = match CopyValue(value).to_sql_checked(ty, buf) {
            Ok(IsNull::Yes) => -1,
            Ok(IsNull::No) => i32::try_from(buf.len() - at - 4)
                .map_err(|_| Error::invalid(column.clone(), "value too large to copy"))?,
            Err(e) => return Err(Error::invalid(column.clone(), e.to_string())),
        };
        buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// `"name"`, with `"` doubled.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

type Encoded = Result<IsNull, Box<dyn StdError + Sync + Send>>;

/// One value in the binary form of its column's type. Integers go into any integer
/// column they fit (sea-query values do not know the column's width); every other value
/// must match its column's type, which the driver checks.
#[derive(Debug)]
struct CopyValue<'a>(&'a Value);

fn mismatch(message: String) -> Box<dyn StdError + Sync + Send> {
    message.into()
}

impl CopyValue<'_> {
    fn integer(v: Option<i128>, ty: &Type, out: &mut BytesMut) -> Encoded {
        let Some(v) = v else { return Ok(IsNull::Yes) };
        let range = |_| mismatch(format!("{v} does not fit in {ty}"));
        match *ty {
            Type::INT2 => i16::try_from(v).map_err(range)?.to_sql(ty, out),
            Type::INT4 => i32::try_from(v).map_err(range)?.to_sql(ty, out),
            Type::INT8 => i64::try_from(v).map_err(range)?.to_sql(ty, out),
            Type::NUMERIC => Decimal::from_i128_with_scale(v, 0).to_sql(ty, out),
            _ => Err(mismatch(format!("an integer cannot go into a {ty} column"))),
        }
    }

    /// A NULL fits any column, whatever Rust type it was written as.
    fn checked<T: ToSql>(v: Option<T>, ty: &Type, out: &mut BytesMut) -> Encoded {
        match v {
            None => Ok(IsNull::Yes),
            Some(v) => v.to_sql_checked(ty, out),
        }
    }
}

impl ToSql for CopyValue<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Encoded {
        let int = |v: Option<i128>, out: &mut BytesMut| Self::integer(v, ty, out);
        match self.0 {
            Value::Bool(v) => Self::checked(*v, ty, out),
            Value::TinyInt(v) => int(v.map(i128::from), out),
            Value::SmallInt(v) => int(v.map(i128::from), out),
            Value::Int(v) => int(v.map(i128::from), out),
            Value::BigInt(v) => int(v.map(i128::from), out),
            Value::TinyUnsigned(v) => int(v.map(i128::from), out),
            Value::SmallUnsigned(v) => int(v.map(i128::from), out),
            Value::Unsigned(v) => int(v.map(i128::from), out),
            Value::BigUnsigned(v) => int(v.map(i128::from), out),
            Value::Float(v) if *ty == Type::FLOAT8 => Self::checked(v.map(f64::from), ty, out),
            Value::Float(v) => Self::checked(*v, ty, out),
            Value::Double(v) => Self::checked(*v, ty, out),
            Value::String(v) => Self::checked(v.as_deref(), ty, out),
            Value::Char(v) => Self::checked(v.map(String::from), ty, out),
            Value::Enum(OptionEnum::Some(e)) => Self::checked(Some(e.value.as_ref()), ty, out),
            Value::Enum(OptionEnum::None(_)) => Ok(IsNull::Yes),
            Value::Bytes(v) => Self::checked(v.as_deref(), ty, out),
            Value::Json(v) => Self::checked(v.as_deref(), ty, out),
            Value::ChronoDate(v) => Self::checked(v.as_ref(), ty, out),
            Value::ChronoTime(v) => Self::checked(v.as_ref(), ty, out),
            Value::ChronoDateTime(v) => Self::checked(v.as_ref(), ty, out),
            Value::ChronoDateTimeUtc(v) => Self::checked(v.as_ref(), ty, out),
            Value::ChronoDateTimeLocal(v) => Self::checked(v.as_ref(), ty, out),
            Value::ChronoDateTimeWithTimeZone(v) => Self::checked(v.as_ref(), ty, out),
            Value::Uuid(v) => Self::checked(v.as_ref(), ty, out),
            Value::Decimal(v) => Self::checked(v.as_ref(), ty, out),
            // Variants another crate's sea-query features turn on: refused, not guessed.
            #[allow(unreachable_patterns)]
            _ => Err(mismatch("this kind of value cannot be copied".into())),
        }
    }

    /// Each value checks its column's type itself, in `to_sql`.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: Value, ty: &Type) -> Result<Vec<u8>, String> {
        let mut out = BytesMut::new();
        CopyValue(&value)
            .to_sql_checked(ty, &mut out)
            .map(|_| out.to_vec())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn integers_fit_any_integer_column_they_fit_in() {
        assert_eq!(
            encode(Value::Int(Some(7)), &Type::INT8).unwrap(),
            7i64.to_be_bytes()
        );
        assert_eq!(
            encode(Value::BigInt(Some(7)), &Type::INT2).unwrap(),
            7i16.to_be_bytes()
        );
        let err = encode(Value::BigInt(Some(70_000)), &Type::INT2).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        assert!(encode(Value::Int(Some(1)), &Type::TEXT).is_err());
        assert!(encode(Value::BigUnsigned(Some(u64::MAX)), &Type::INT8).is_err());
    }

    #[test]
    fn other_values_must_match_their_column_but_null_fits_any() {
        assert_eq!(encode(Value::from("ab"), &Type::TEXT).unwrap(), b"ab");
        assert!(encode(Value::from("ab"), &Type::TIMESTAMPTZ).is_err());
        assert!(encode(Value::Bool(Some(true)), &Type::BOOL).is_ok());
        assert!(encode(Value::Bool(None), &Type::INT4).is_ok());
        assert!(encode(Value::String(None), &Type::DATE).is_ok());
    }

    #[test]
    fn a_tuple_is_its_width_then_each_length_and_bytes() {
        let mut buf = BytesMut::new();
        let columns = ["k".to_owned(), "v".to_owned()];
        encode_row(
            &mut buf,
            &[Value::from("ab"), Value::String(None)],
            &columns,
            &[Type::TEXT, Type::TEXT],
        )
        .unwrap();
        assert_eq!(&buf[..], b"\0\x02\0\0\0\x02ab\xff\xff\xff\xff");
        let err =
            encode_row(&mut buf, &[Value::from("x")], &columns[..1], &[Type::INT4]).unwrap_err();
        assert!(err.to_string().contains('k'), "names the column: {err}");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
