//! The hash of a copied row's values: what a hash pass compares to find changed rows
//! of a table without an updated-at column or a rowversion.
//!
//! It is stored (`row_hash` in each copy), so it must come out the same in every
//! process and every version of this crate: a defined byte encoding of each value
//! (type tag, length, bytes) through SHA-256, the first 8 bytes as a signed integer.
//! 64 bits leave a chance of 2^-64 that one change goes unseen; a stronger hash buys
//! nothing against data nobody crafts to collide.

use sea_query::Value;
use sha2::{Digest, Sha256};

/// The hash of `values`, in their order.
pub(super) fn row_hash(values: &[Value]) -> i64 {
    let mut h = Sha256::new();
    let mut field = |tag: u8, bytes: &[u8]| {
        h.update([tag]);
        h.update((bytes.len() as u32).to_le_bytes());
        h.update(bytes);
    };
    for value in values {
        match value {
            Value::Bool(Some(v)) => field(1, &[u8::from(*v)]),
            Value::BigInt(Some(v)) => field(2, &v.to_le_bytes()),
            Value::Int(Some(v)) => field(2, &i64::from(*v).to_le_bytes()),
            Value::String(Some(v)) => field(3, v.as_bytes()),
            // Normalized: a column whose scale changes (12.50 -> 12.5000) holds the
            // same amounts and must not rewrite the whole table.
            Value::Decimal(Some(v)) => field(4, v.normalize().to_string().as_bytes()),
            Value::ChronoDate(Some(v)) => field(5, v.format("%Y-%m-%d").to_string().as_bytes()),
            Value::ChronoDateTimeUtc(Some(v)) => {
                field(6, &v.timestamp_micros().to_le_bytes());
            }
            // A type no spec uses today: its debug form is stable within a version, and
            // a new column means a new spec whose first pass rewrites the table anyway.
            other if !is_null(other) => field(7, format!("{other:?}").as_bytes()),
            _ => field(0, &[]),
        }
    }
    let digest = h.finalize();
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

fn is_null(value: &Value) -> bool {
    matches!(
        value,
        Value::Bool(None)
            | Value::BigInt(None)
            | Value::Int(None)
            | Value::String(None)
            | Value::Decimal(None)
            | Value::ChronoDate(None)
            | Value::ChronoDateTimeUtc(None)
    )
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;

    #[test]
    fn equal_values_hash_equal_and_any_change_shows() {
        let row = |name: &str, amount: &str| {
            vec![
                Value::from(7_i64),
                Value::from(name),
                Value::from(amount.parse::<Decimal>().unwrap()),
                Value::String(None),
            ]
        };
        assert_eq!(row_hash(&row("a", "1.50")), row_hash(&row("a", "1.5000")));
        assert_ne!(row_hash(&row("a", "1.50")), row_hash(&row("b", "1.50")));
        assert_ne!(row_hash(&row("a", "1.50")), row_hash(&row("a", "1.51")));
        // NULL is not the empty string, and values do not run into each other.
        assert_ne!(
            row_hash(&[Value::String(None)]),
            row_hash(&[Value::from("")])
        );
        assert_ne!(
            row_hash(&[Value::from("ab"), Value::from("c")]),
            row_hash(&[Value::from("a"), Value::from("bc")])
        );
        // Stored: the same bytes give the same number in every build.
        // Pinned (Python: sha256(b"\x03" + (4).to_bytes(4, "little") + b"C001")):
        // a change here would rewrite every copied table on the next hash pass.
        assert_eq!(row_hash(&[Value::from("C001")]), 2615791769143821760);
    }
}
