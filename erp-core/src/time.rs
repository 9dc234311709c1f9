//! Clock helpers.

use chrono::{DateTime, Utc};

/// The current instant at microsecond precision: what PostgreSQL and our SQLite format
/// store, so a value written and read back compares equal.
pub fn now() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

/// Drops sub-microsecond precision.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
