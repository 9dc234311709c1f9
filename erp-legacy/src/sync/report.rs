//! What a sync run did.

use std::time::Duration;

use serde::Serialize;

/// What one table's sync did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    /// The ERP copy's name.
    pub table: &'static str,
    /// Rows copied (upserted) by this run.
    pub rows: u64,
    /// Batches committed.
    pub batches: u64,
    /// Rows of the copy whose legacy row was gone, marked or removed by this run.
    pub deleted: u64,
}

/// What a sync run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Per table.
    pub tables: Vec<TableReport>,
    /// Wall time.
    #[serde(with = "millis")]
    pub duration: Duration,
}

mod millis {
    pub(super) fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u128(d.as_millis())
    }
}

impl TableReport {
    pub(super) fn new(table: &'static str) -> Self {
        Self {
            table,
            rows: 0,
            batches: 0,
            deleted: 0,
        }
    }
}

impl SyncReport {
    /// Rows copied in all.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Rows marked deleted or removed in all.
    pub fn deleted(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted).sum()
    }
}
