//! Turns `tokio-postgres` rows into owned [`Row`]s.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::types::Type;

use crate::{
    Error, Result,
    sql::{Cell, Row},
};

/// Column names of a prepared statement, shared by all its rows.
pub(super) fn column_names(stmt: &tokio_postgres::Statement) -> Arc<[String]> {
    stmt.columns().iter().map(|c| c.name().to_owned()).collect()
}

/// Converts one row; an unsupported column type is a decode error naming the column.
pub(super) fn decode_row(columns: &Arc<[String]>, row: &tokio_postgres::Row) -> Result<Row> {
    let mut cells = Vec::with_capacity(columns.len());
    for (i, col) in row.columns().iter().enumerate() {
        let fail = |e: tokio_postgres::Error| Error::Decode {
            column: col.name().to_owned(),
            message: e.to_string(),
        };
        let ty = col.type_();
        let cell = if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map_err(fail)?
                .map(Cell::Bool)
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map_err(fail)?
                .map(|v| Cell::Int(v.into()))
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map_err(fail)?
                .map(|v| Cell::Int(v.into()))
        } else if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map_err(fail)?
                .map(Cell::Int)
        } else if *ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)
                .map_err(fail)?
                .map(|v| Cell::Float(v.into()))
        } else if *ty == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)
                .map_err(fail)?
                .map(Cell::Float)
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(i)
                .map_err(fail)?
                .map(Cell::Text)
        } else if *ty == Type::UUID {
            row.try_get::<_, Option<uuid::Uuid>>(i)
                .map_err(fail)?
                .map(Cell::Uuid)
        } else if *ty == Type::TIMESTAMPTZ {
            row.try_get::<_, Option<DateTime<Utc>>>(i)
                .map_err(fail)?
                .map(Cell::Timestamp)
        } else if *ty == Type::TIMESTAMP {
            row.try_get::<_, Option<NaiveDateTime>>(i)
                .map_err(fail)?
                .map(|v| Cell::Timestamp(v.and_utc()))
        } else if *ty == Type::DATE {
            row.try_get::<_, Option<NaiveDate>>(i)
                .map_err(fail)?
                .map(|v| Cell::Text(v.format("%Y-%m-%d").to_string()))
        } else if *ty == Type::NUMERIC {
            // Exact decimals travel as their text: a Cell has no decimal variant, and
            // text loses nothing (FromCell parses it back into rust_decimal::Decimal).
            row.try_get::<_, Option<rust_decimal::Decimal>>(i)
                .map_err(fail)?
                .map(|v| Cell::Text(v.to_string()))
        } else if *ty == Type::JSON || *ty == Type::JSONB {
            row.try_get::<_, Option<serde_json::Value>>(i)
                .map_err(fail)?
                .map(Cell::Json)
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)
                .map_err(fail)?
                .map(Cell::Bytes)
        } else {
            return Err(Error::Decode {
                column: col.name().to_owned(),
                message: format!("unsupported PostgreSQL type {ty}; cast it in the query"),
            });
        };
        cells.push(cell.unwrap_or(Cell::Null));
    }
    Ok(Row::new(Arc::clone(columns), cells))
}
