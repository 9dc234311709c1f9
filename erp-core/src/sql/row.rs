use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use crate::{Error, Result};

/// One value of a result row, owned, whatever the backend.
///
/// Backends store some types differently (SQLite keeps UUIDs and timestamps as text,
/// booleans as integers); [`FromCell`] accepts each backend's representation so the
/// repositories decode rows once.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Cell {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer.
    Int(i64),
    /// Any floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A UUID.
    Uuid(Uuid),
    /// An instant.
    Timestamp(DateTime<Utc>),
    /// A JSON document.
    Json(serde_json::Value),
}

/// A result row: column names (shared by all rows of a result) and cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    cells: Vec<Cell>,
}

impl Row {
    /// Builds a row; `cells` must line up with `columns`.
    pub fn new(columns: Arc<[String]>, cells: Vec<Cell>) -> Self {
        debug_assert_eq!(columns.len(), cells.len());
        Self { columns, cells }
    }

    /// Column names in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The raw cell of a column.
    pub fn cell(&self, column: &str) -> Result<&Cell> {
        self.columns
            .iter()
            .position(|c| c == column)
            .map(|i| &self.cells[i])
            .ok_or_else(|| Error::Decode {
                column: column.to_owned(),
                message: "no such column in the result".into(),
            })
    }

    /// Decodes a column into `T`.
    pub fn get<T: FromCell>(&self, column: &str) -> Result<T> {
        T::from_cell(self.cell(column)?).map_err(|message| Error::Decode {
            column: column.to_owned(),
            message,
        })
    }

    /// Decodes a column into `T`, moving its text or bytes out instead of copying them
    /// (the cell reads `NULL` afterwards): for decoding many rows that are not kept.
    pub fn take<T: FromCell>(&mut self, column: &str) -> Result<T> {
        let decode_error = |message| Error::Decode {
            column: column.to_owned(),
            message,
        };
        let i = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| decode_error("no such column in the result".into()))?;
        T::from_owned_cell(std::mem::replace(&mut self.cells[i], Cell::Null)).map_err(decode_error)
    }
}

/// Decoding of a [`Cell`] into a Rust type. The error is a short description of what
/// was found instead.
pub trait FromCell: Sized {
    /// Decodes the cell.
    fn from_cell(cell: &Cell) -> Result<Self, String>;

    /// Decodes a cell given up by its row ([`Row::take`]); text and bytes can move.
    fn from_owned_cell(cell: Cell) -> Result<Self, String> {
        Self::from_cell(&cell)
    }
}

fn unexpected(want: &str, cell: &Cell) -> String {
    let got = match cell {
        Cell::Null => "NULL",
        Cell::Bool(_) => "a boolean",
        Cell::Int(_) => "an integer",
        Cell::Float(_) => "a float",
        Cell::Text(_) => "text",
        Cell::Bytes(_) => "bytes",
        Cell::Uuid(_) => "a UUID",
        Cell::Timestamp(_) => "a timestamp",
        Cell::Json(_) => "JSON",
    };
    format!("expected {want}, found {got}")
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }

    fn from_owned_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_owned_cell(other).map(Some),
        }
    }
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s.clone()),
            Cell::Uuid(u) => Ok(u.to_string()),
            other => Err(unexpected("text", other)),
        }
    }

    fn from_owned_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s),
            other => Self::from_cell(&other),
        }
    }
}

impl FromCell for i64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Int(i) => Ok(*i),
            other => Err(unexpected("an integer", other)),
        }
    }
}

impl FromCell for i32 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        let wide = i64::from_cell(cell)?;
        i32::try_from(wide).map_err(|_| format!("{wide} does not fit in 32 bits"))
    }
}

impl FromCell for f64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Float(f) => Ok(*f),
            // Lossless only up to 2^53, which is as far as a float column can go anyway.
            #[allow(clippy::cast_precision_loss)]
            Cell::Int(i) => Ok(*i as f64),
            other => Err(unexpected("a number", other)),
        }
    }
}

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Bool(b) => Ok(*b),
            Cell::Int(0) => Ok(false),
            Cell::Int(1) => Ok(true),
            other => Err(unexpected("a boolean", other)),
        }
    }
}

impl FromCell for Vec<u8> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Bytes(b) => Ok(b.clone()),
            other => Err(unexpected("bytes", other)),
        }
    }

    fn from_owned_cell(cell: Cell) -> Result<Self, String> {
        match cell {
            Cell::Bytes(b) => Ok(b),
            other => Self::from_cell(&other),
        }
    }
}

impl FromCell for Uuid {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Uuid(u) => Ok(*u),
            Cell::Text(s) => Uuid::parse_str(s).map_err(|_| format!("{s:?} is not a UUID")),
            Cell::Bytes(b) => Uuid::from_slice(b).map_err(|_| "bytes are not a UUID".to_owned()),
            other => Err(unexpected("a UUID", other)),
        }
    }
}

impl FromCell for DateTime<Utc> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Timestamp(t) => Ok(*t),
            Cell::Text(s) => parse_timestamp(s).ok_or_else(|| format!("{s:?} is not a timestamp")),
            other => Err(unexpected("a timestamp", other)),
        }
    }
}

impl FromCell for serde_json::Value {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Json(v) => Ok(v.clone()),
            Cell::Text(s) => serde_json::from_str(s).map_err(|e| format!("invalid JSON: {e}")),
            other => Err(unexpected("JSON", other)),
        }
    }
}

impl FromCell for rust_decimal::Decimal {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| format!("{s:?} is not an exact decimal")),
            Cell::Int(i) => Ok((*i).into()),
            // Only reached for MONEY read without a CAST, which the MSSQL executor
            // documents; the conversion is as exact as the f64 it came in.
            Cell::Float(f) => {
                rust_decimal::Decimal::try_from(*f).map_err(|_| format!("{f} is not a decimal"))
            }
            other => Err(unexpected("a decimal", other)),
        }
    }
}

impl FromCell for chrono::NaiveDate {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => {
                chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d")
                    .map_err(|_| format!("{s:?} is not a date"))
            }
            Cell::Timestamp(t) => Ok(t.date_naive()),
            other => Err(unexpected("a date", other)),
        }
    }
}

impl FromCell for crate::TenantId {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        Uuid::from_cell(cell).map(Self::from_uuid)
    }
}

impl FromCell for crate::UserId {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        Uuid::from_cell(cell).map(Self::from_uuid)
    }
}

/// Parses the timestamp texts SQLite may hold: RFC 3339 (what our binder writes) and
/// SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (what `CURRENT_TIMESTAMP` writes, in UTC).
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: Vec<Cell>) -> Row {
        let cols: Vec<String> = (0..cells.len()).map(|i| format!("c{i}")).collect();
        Row::new(cols.into(), cells)
    }

    #[test]
    fn decodes_each_backends_representation() {
        let id = Uuid::now_v7();
        let r = row(vec![
            Cell::Text(id.to_string()),
            Cell::Int(1),
            Cell::Text("2026-11-23T04:00:00.123456Z".into()),
            Cell::Text("2026-11-23 04:00:00".into()),
            Cell::Null,
        ]);
        assert_eq!(r.get::<Uuid>("c0").unwrap(), id);
        assert!(r.get::<bool>("c1").unwrap());
        assert_eq!(
            r.get::<DateTime<Utc>>("c2")
                .unwrap()
                .timestamp_subsec_micros(),
            123_456
        );
        assert!(r.get::<DateTime<Utc>>("c3").is_ok());
        assert_eq!(r.get::<Option<String>>("c4").unwrap(), None);
    }

    #[test]
    fn mismatches_name_the_column() {
        let r = row(vec![Cell::Text("x".into()), Cell::Int(7)]);
        let err = r.get::<i64>("c0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode column c0: expected an integer, found text"
        );
        assert!(r.get::<bool>("c1").is_err(), "7 is not a boolean");
        assert!(r.get::<String>("missing").is_err());
        assert!(r.get::<String>("c1").is_err());
    }

    #[test]
    fn take_moves_a_value_out_and_decodes_like_get() {
        let mut r = row(vec![
            Cell::Text("name".into()),
            Cell::Null,
            Cell::Bytes(vec![1]),
            Cell::Int(7),
        ]);
        assert_eq!(r.take::<String>("c0").unwrap(), "name");
        assert_eq!(r.cell("c0").unwrap(), &Cell::Null, "taken");
        assert_eq!(r.take::<Option<String>>("c1").unwrap(), None);
        assert_eq!(r.take::<Vec<u8>>("c2").unwrap(), vec![1]);
        assert_eq!(r.take::<i64>("c3").unwrap(), 7);
        let err = r.take::<String>("missing").unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
