//! Where a run stands, told after each committed batch (the CLI's progress bar).

use std::sync::Arc;

/// A table's progress in a run, after one more committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The ERP copy.
    pub table: &'static str,
    /// Rows copied by this run so far; for a table whose changes are found by hash
    /// (`[change_detection]` `"hash"`), rows compared so far, of which only the
    /// changed ones are copied.
    pub rows: u64,
    /// Batches committed by this run so far.
    pub batches: u64,
    /// The legacy table's row count at the start of a first (full) load, and of every
    /// hash pass (which reads the whole table); none for an incremental run, whose
    /// changed rows are not known before they are read.
    pub total: Option<u64>,
}

/// What [`super::LegacySync::with_progress`] calls.
#[derive(Clone)]
pub(super) struct OnProgress(pub(super) Arc<dyn Fn(Progress) + Send + Sync>);

impl OnProgress {
    pub(super) fn tell(&self, progress: Progress) {
        (self.0)(progress)
    }
}

impl std::fmt::Debug for OnProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnProgress")
    }
}
