//! One table's copy: pages after the checkpoint, each written with its checkpoint,
//! the next page read while the previous one is written.

use std::future::Future;

use erp_core::sql::Executor;

use super::{
    TableReport,
    checkpoint::{self, Checkpoint, Cursor},
    progress::{OnProgress, Progress},
    spec::{Read, TableSpec},
    writer::Batch,
};
use crate::{LegacyError, Result};

/// Copies one table from its checkpoint to the end of what the source has now.
///
/// The next page is read on a task of its own while the current batch is written, so
/// decoding the source's rows and encoding the target's run on two cores: at most one
/// page is in flight beyond the batch being written, which bounds memory. A failed
/// write returns at once; the read beside it still runs to its end on its task (a
/// task is never aborted mid-response), and its page is dropped.
pub(super) async fn copy_table<P, R, F, Fut, const N: usize>(
    target: &impl Executor,
    spec: &TableSpec<R, N>,
    cursor: Cursor,
    batch_size: u64,
    progress: Option<(&OnProgress, Option<u64>)>,
    fetch: F,
) -> Result<TableReport>
where
    P: Read<Record = R> + 'static,
    F: Fn(Option<Checkpoint>) -> Fut,
    Fut: Future<Output = Result<Vec<P>>> + Send + 'static,
{
    let mut report = TableReport::new(spec.table);
    let start = checkpoint::load(target, spec.table, cursor).await?;
    let mut page = fetch(start).await?;
    while let Some(end) = page.last().map(Checkpoint::after) {
        // A short page is the end of the table as of this read. Otherwise the next read
        // starts before this page is turned into a batch, so the source never waits on
        // that.
        let next = (page.len() as u64 >= batch_size).then(|| tokio::spawn(fetch(Some(end))));
        let batch = Batch::of(spec, page)?;
        batch.commit(target).await?;
        report.rows += batch.read();
        report.batches += 1;
        if let Some((on, total)) = progress {
            on.tell(Progress {
                table: spec.table,
                rows: report.rows,
                batches: report.batches,
                total,
            });
        }
        // Gone before the next page arrives: two pages at most, never three.
        drop(batch);
        match next {
            Some(read) => page = read.await.map_err(reader_gone)??,
            None => break,
        }
    }
    Ok(report)
}

/// A reader that panicked panics the sync, as it would have inline; one cancelled can
/// only be the runtime shutting down.
pub(super) fn reader_gone(e: tokio::task::JoinError) -> LegacyError {
    if e.is_panic() {
        std::panic::resume_unwind(e.into_panic());
    }
    LegacyError::Cancelled
}
