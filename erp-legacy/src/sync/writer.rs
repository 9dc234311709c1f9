//! One batch into the ERP copy: its rows and the table's new checkpoint, in one
//! transaction ([`Executor::upsert_rows`]: binary `COPY` and one merge on PostgreSQL,
//! multi-row upserts on SQLite).

use std::{
    collections::HashSet,
    hash::{BuildHasherDefault, Hasher},
};

use erp_core::sql::{Executor, Scope, UpsertRows};

use super::{
    checkpoint::{self, Checkpoint},
    spec::{Prepared, Read, TableSpec},
};
use crate::{LegacyError, Result};

/// A page turned into the rows to write, ready to commit with its checkpoint.
#[derive(Debug)]
pub(super) struct Batch {
    rows: UpsertRows,
    /// Just after the page's last record.
    checkpoint: Checkpoint,
    /// Records read, duplicates included: what the checkpoint counts.
    read: u64,
}

impl Batch {
    /// The rows of a page (not empty) for the copy `spec`.
    ///
    /// A page is read with two statements, and a record updated between them is in
    /// both: PostgreSQL refuses to merge one key twice in a statement, and the later
    /// version is the one to keep, so only the last record of each key is written.
    pub(super) fn of<P: Read<Record = R>, R, const N: usize>(
        spec: &TableSpec<R, N>,
        page: Vec<P>,
    ) -> Result<Self> {
        let checkpoint = page
            .last()
            .map(Checkpoint::after)
            .ok_or_else(|| LegacyError::Internal("an empty page is no batch".into()))?;
        let read = page.len() as u64;
        let latest = latest_per_key(&page);
        let kept = page
            .into_iter()
            .zip(latest)
            .filter(|(_, keep)| *keep)
            .map(|(p, _)| spec.prepare(p.into_record()));
        let rows = copy_rows(spec, read as usize, kept)?;
        Ok(Self {
            rows,
            checkpoint,
            read,
        })
    }

    /// Records read for this batch.
    pub(super) fn read(&self) -> u64 {
        self.read
    }

    /// Writes the rows and moves the checkpoint, atomically: killed before the commit,
    /// neither happened and the next run reads the batch again.
    pub(super) async fn commit(&self, target: &impl Executor) -> Result<()> {
        let save = checkpoint::save(self.rows.table(), &self.checkpoint, self.read)?;
        target
            .upsert_rows(Scope::Global, &self.rows, &[save])
            .await?;
        Ok(())
    }
}

/// The upsert of `prepared` records into `spec`'s copy (`capacity`: how many at most).
pub(super) fn copy_rows<R, const N: usize>(
    spec: &TableSpec<R, N>,
    capacity: usize,
    prepared: impl Iterator<Item = Prepared<N>>,
) -> Result<UpsertRows> {
    let internal = |e: erp_core::Error| LegacyError::Internal(e.to_string());
    let mut rows = UpsertRows::new(spec.table, spec.key, spec.column_names()).map_err(internal)?;
    rows.reserve(capacity);
    let synced_at = erp_core::time::now();
    for p in prepared {
        rows.push(p.into_row(synced_at)).map_err(internal)?;
    }
    Ok(rows)
}

/// For each record, whether it is the last of its key in `page`.
fn latest_per_key<R: Read>(page: &[R]) -> Vec<bool> {
    let mut seen: HashSet<_, BuildHasherDefault<KeyHasher>> =
        HashSet::with_capacity_and_hasher(page.len(), BuildHasherDefault::default());
    let mut keep: Vec<bool> = page.iter().rev().map(|r| seen.insert(r.key())).collect();
    keep.reverse();
    keep
}

/// A multiply-rotate hash (as rustc's FxHash). The keys come from the legacy database,
/// not from an attacker, so SipHash's resistance to crafted collisions buys nothing
/// here and costs more than the rest of the check.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::sync::spec::{Key, Position};

    struct R(i64, u32);

    impl Read for R {
        type Record = Self;
        fn position(&self) -> Position {
            Position::At(Utc.timestamp_opt(i64::from(self.1), 0).unwrap())
        }
        fn key(&self) -> Key<'_> {
            Key::Int(self.0)
        }
        fn into_record(self) -> Self {
            self
        }
    }

    #[test]
    fn a_record_read_twice_is_written_once_in_its_later_version() {
        let page = [R(1, 10), R(2, 10), R(3, 11), R(1, 12)];
        assert_eq!(latest_per_key(&page), [false, true, true, true]);
        assert_eq!(latest_per_key::<R>(&[]), Vec::<bool>::new());
        let many: Vec<R> = (0..1000).map(|i| R(i % 500, 0)).collect();
        let keep = latest_per_key(&many);
        assert!(keep[..500].iter().all(|k| !k) && keep[500..].iter().all(|k| *k));
    }
}
