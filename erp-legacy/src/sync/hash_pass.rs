//! The hash pass: change detection for a table with neither an updated-at column nor a
//! `rowversion` (`[change_detection]` `"hash"`).
//!
//! With no cursor to follow, every pass reads the whole legacy table in key order, a
//! bounded batch at a time, hashes each row's values ([`super::row_hash`]) and looks
//! up the hashes its copy holds for the same keys, by value (`key IN (..)`, as the
//! deletes pass does, so the two databases' collations never have to agree on an
//! order). Only rows whose hash differs, new rows, and rows marked deleted that are
//! back are written. Each batch's writes and the pass's cursor (the batch's last key,
//! in `legacy_sync_cursors`) commit in one transaction: a pass killed midway resumes
//! after its last committed batch, and a batch rolled back wrote nothing.

use std::{collections::HashMap, future::Future};

use erp_core::sql::{Cell, Executor, Scope};
use sea_query::{Alias, Expr, ExprTrait, Query};

use super::{
    TableReport,
    checkpoint::{self, Cursor},
    engine::reader_gone,
    progress::{OnProgress, Progress},
    reconcile::{KeyKind, MAX_BATCH, OwnedKey},
    spec::{DELETED_AT, ROW_HASH, Read, TableSpec},
    writer::copy_rows,
};
use crate::Result;

/// Runs (or resumes) one hash pass over `spec`'s table; `fetch` reads the legacy
/// table's next batch after a key.
pub(super) async fn pass<R, F, Fut, const N: usize>(
    target: &impl Executor,
    spec: &TableSpec<R, N>,
    kind: KeyKind,
    batch_size: u64,
    progress: Option<(&OnProgress, Option<u64>)>,
    fetch: F,
) -> Result<TableReport>
where
    R: Read<Record = R> + 'static,
    F: Fn(Option<OwnedKey>) -> Fut,
    Fut: Future<Output = Result<Vec<R>>> + Send + 'static,
{
    let mut report = TableReport::new(spec.table);
    let start = match checkpoint::load(target, spec.table, Cursor::Hash).await? {
        Some(cp) => Some(OwnedKey::parse(cp.key, kind)?),
        None => None,
    };
    let mut examined = 0;
    let mut page = fetch(start).await?;
    loop {
        let full = page.len() as u64 >= batch_size;
        let last = page.last().map(|r| OwnedKey::from(r.key()));
        // The next read runs while this batch is compared and written, as in the copy.
        let next = match (&last, full) {
            (Some(last), true) => Some(tokio::spawn(fetch(Some(last.clone())))),
            _ => None,
        };
        examined += page.len() as u64;
        let stored = copy_hashes(target, spec, kind, &page).await?;
        let read = page.len();
        let changed: Vec<_> = page
            .into_iter()
            .map(|r| {
                let key = OwnedKey::from(r.key());
                (key, spec.prepare(r.into_record()))
            })
            .filter(|(key, p)| stored.get(key) != Some(&Some(p.hash)))
            .map(|(_, p)| p)
            .collect();
        let written = changed.len() as u64;
        let cursor = match &last {
            Some(last) if full => {
                checkpoint::save_cursor(spec.table, Cursor::Hash, None, &last.to_text(), written)?
            }
            _ => checkpoint::clear_cursor(spec.table, Cursor::Hash),
        };
        if changed.is_empty() {
            target.execute_batch(Scope::Global, &[cursor]).await?;
        } else {
            let rows = copy_rows(spec, changed.len(), changed.into_iter())?;
            target.upsert_rows(Scope::Global, &rows, &[cursor]).await?;
        }
        report.rows += written;
        if read > 0 {
            report.batches += 1;
        }
        if let Some((on, total)) = progress {
            on.tell(Progress {
                table: spec.table,
                rows: examined,
                batches: report.batches,
                total,
            });
        }
        match next {
            Some(read) => page = read.await.map_err(reader_gone)??,
            None => break,
        }
    }
    Ok(report)
}

/// The hash the copy holds for each key of `page` that it has: none for a row marked
/// deleted (or copied before hashes were kept), which is then written again.
async fn copy_hashes<R: Read, const N: usize>(
    target: &impl Executor,
    spec: &TableSpec<R::Record, N>,
    kind: KeyKind,
    page: &[R],
) -> Result<HashMap<OwnedKey, Option<i64>>> {
    let mut stored = HashMap::with_capacity(page.len());
    for chunk in page.chunks(MAX_BATCH as usize) {
        let keys = chunk.iter().map(|r| OwnedKey::from(r.key()).value());
        let q = Query::select()
            .columns([
                Alias::new(spec.key),
                Alias::new(ROW_HASH),
                Alias::new(DELETED_AT),
            ])
            .from(Alias::new(spec.table))
            .and_where(Expr::col(Alias::new(spec.key)).is_in(keys))
            .to_owned();
        for row in target.fetch_all(Scope::Global, &q.into()).await? {
            let key = OwnedKey::read(&row, spec.key, kind)?;
            let live = matches!(row.cell(DELETED_AT)?, Cell::Null);
            let hash: Option<i64> = row.get(ROW_HASH)?;
            stored.insert(key, hash.filter(|_| live));
        }
    }
    Ok(stored)
}
