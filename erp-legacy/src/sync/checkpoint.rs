//! Where each table's copy stands, in the ERP database: the `(updated_at, key)` of the
//! last row committed in `legacy_sync_checkpoints` (the watermark), and in
//! `legacy_sync_cursors` the highest `rowversion` committed or the last key of an
//! open hash pass, with the mode that wrote it.

use chrono::{DateTime, Utc};
use erp_core::sql::{Executor, Scope, Statement};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, Value};

use super::spec::{Position, Read};
use crate::{LegacyError, Result};

const TABLE: &str = "legacy_sync_checkpoints";
const CURSORS: &str = "legacy_sync_cursors";

fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// A position in the table's feed order. Keys are kept as text whatever their type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Checkpoint {
    pub(super) at: Position,
    pub(super) key: String,
}

/// Which cursor a table's copy keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cursor {
    /// `(updated_at, key)` in `legacy_sync_checkpoints`.
    Watermark,
    /// The highest `rowversion`, in `legacy_sync_cursors`.
    RowVersion,
    /// The last key of an open hash pass, in `legacy_sync_cursors`.
    Hash,
}

impl Cursor {
    /// The `mode` stored with a cursor: one of another mode (the mapping changed) is
    /// not this mode's, and the table starts over in the new mode.
    fn mode(self) -> &'static str {
        match self {
            Cursor::Watermark => "updated_at",
            Cursor::RowVersion => "rowversion",
            Cursor::Hash => "hash",
        }
    }
}

impl Checkpoint {
    /// Just after `record`.
    pub(super) fn after(record: &impl Read) -> Self {
        Self {
            at: record.position(),
            key: record.key().to_text(),
        }
    }

    /// The checkpoint of a watermarked table with integer keys: they must compare as
    /// integers, not as text ("10" < "9").
    pub(super) fn int_key(cp: Option<Self>) -> Result<Option<(DateTime<Utc>, i64)>> {
        cp.map(|cp| Ok((cp.watermark()?, int(&cp.key)?)))
            .transpose()
    }

    /// The checkpoint of a watermarked table with text keys.
    pub(super) fn text_key(cp: Option<Self>) -> Result<Option<(DateTime<Utc>, String)>> {
        cp.map(|cp| Ok((cp.watermark()?, cp.key))).transpose()
    }

    /// The checkpoint of a table read by `rowversion`, with integer keys.
    pub(super) fn version_int_key(cp: Option<Self>) -> Result<Option<(i64, i64)>> {
        cp.map(|cp| Ok((cp.version()?, int(&cp.key)?))).transpose()
    }

    /// The checkpoint of a table read by `rowversion`, with text keys.
    pub(super) fn version_text_key(cp: Option<Self>) -> Result<Option<(i64, String)>> {
        cp.map(|cp| Ok((cp.version()?, cp.key))).transpose()
    }

    fn watermark(&self) -> Result<DateTime<Utc>> {
        match self.at {
            Position::At(at) => Ok(at),
            Position::Version(_) => Err(wrong_kind()),
        }
    }

    fn version(&self) -> Result<i64> {
        match self.at {
            Position::Version(v) => Ok(v),
            Position::At(_) => Err(wrong_kind()),
        }
    }
}

fn int(key: &str) -> Result<i64> {
    key.parse().map_err(|_| {
        LegacyError::CorruptCheckpoint(format!(
            "the key {key:?} of an integer-keyed table is not an integer"
        ))
    })
}

/// Each cursor is loaded by the feed that wrote it: a mismatch is a bug here.
fn wrong_kind() -> LegacyError {
    LegacyError::Internal("a checkpoint of another change detection".into())
}

/// The table's checkpoint of `cursor`'s kind, if it has one.
pub(super) async fn load(
    target: &impl Executor,
    table: &str,
    cursor: Cursor,
) -> Result<Option<Checkpoint>> {
    if cursor == Cursor::Watermark {
        let q = Query::select()
            .columns([a("watermark"), a("last_key")])
            .from(a(TABLE))
            .and_where(Expr::col(a("table_name")).eq(table))
            .to_owned();
        let row = target.fetch_optional(Scope::Global, &q.into()).await?;
        return Ok(match row {
            Some(r) => Some(Checkpoint {
                at: Position::At(r.get("watermark")?),
                key: r.get("last_key")?,
            }),
            None => None,
        });
    }
    let q = Query::select()
        .columns([a("row_version"), a("last_key")])
        .from(a(CURSORS))
        .and_where(Expr::col(a("table_name")).eq(table))
        .and_where(Expr::col(a("mode")).eq(cursor.mode()))
        .to_owned();
    let Some(r) = target.fetch_optional(Scope::Global, &q.into()).await? else {
        return Ok(None);
    };
    let key: String = r.get("last_key")?;
    let at = match (cursor, r.get::<Option<i64>>("row_version")?) {
        (Cursor::RowVersion, Some(v)) => Position::Version(v),
        (Cursor::RowVersion, None) => {
            return Err(LegacyError::CorruptCheckpoint(format!(
                "the rowversion cursor of {table} has no version"
            )));
        }
        // A hash pass keeps only its key; the position is not read.
        _ => Position::Version(0),
    };
    Ok(Some(Checkpoint { at, key }))
}

/// Moves the table's checkpoint to `cp` and counts `rows` more copied: run in the
/// transaction of the batch it follows.
pub(super) fn save(table: &str, cp: &Checkpoint, rows: u64) -> Result<Statement> {
    match cp.at {
        Position::At(at) => save_watermark(table, at, &cp.key, rows),
        Position::Version(v) => save_cursor(table, Cursor::RowVersion, Some(v), &cp.key, rows),
    }
}

fn save_watermark(table: &str, at: DateTime<Utc>, key: &str, rows: u64) -> Result<Statement> {
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    Ok(Query::insert()
        .into_table(a(TABLE))
        .columns([
            a("table_name"),
            a("watermark"),
            a("last_key"),
            a("rows_synced"),
            a("updated_at"),
        ])
        .values([
            table.into(),
            at.into(),
            key.into(),
            rows.into(),
            erp_core::time::now().into(),
        ])
        .map_err(|e| LegacyError::Internal(e.to_string()))?
        .on_conflict(
            OnConflict::column(a("table_name"))
                .update_columns([a("watermark"), a("last_key"), a("updated_at")])
                .value(
                    a("rows_synced"),
                    Expr::col((a(TABLE), a("rows_synced"))).add(rows),
                )
                .to_owned(),
        )
        .to_owned()
        .into())
}

/// Moves the table's cursor of kind `cursor` (not [`Cursor::Watermark`]) to
/// `(version, key)`, counting `rows` more copied. A cursor of another mode is replaced
/// and its count restarts.
pub(super) fn save_cursor(
    table: &str,
    cursor: Cursor,
    version: Option<i64>,
    key: &str,
    rows: u64,
) -> Result<Statement> {
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let same_mode = Expr::col((a(CURSORS), a("mode"))).eq(cursor.mode());
    Ok(Query::insert()
        .into_table(a(CURSORS))
        .columns([
            a("table_name"),
            a("mode"),
            a("row_version"),
            a("last_key"),
            a("rows_synced"),
            a("updated_at"),
        ])
        .values([
            table.into(),
            cursor.mode().into(),
            Value::BigInt(version).into(),
            key.into(),
            rows.into(),
            erp_core::time::now().into(),
        ])
        .map_err(|e| LegacyError::Internal(e.to_string()))?
        .on_conflict(
            OnConflict::column(a("table_name"))
                .update_columns([a("mode"), a("row_version"), a("last_key"), a("updated_at")])
                .value(
                    a("rows_synced"),
                    Expr::case(
                        same_mode,
                        Expr::col((a(CURSORS), a("rows_synced"))).add(rows),
                    )
                    .finally(rows),
                )
                .to_owned(),
        )
        .to_owned()
        .into())
}

/// Drops the table's cursor of kind `cursor`: a hash pass that reached the end starts
/// from the first key next time.
pub(super) fn clear_cursor(table: &str, cursor: Cursor) -> Statement {
    Query::delete()
        .from_table(a(CURSORS))
        .and_where(Expr::col(a("table_name")).eq(table))
        .and_where(Expr::col(a("mode")).eq(cursor.mode()))
        .to_owned()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_positions_must_fit_their_feed() {
        let at = Utc::now();
        let cp = |key: &str| {
            Some(Checkpoint {
                at: Position::At(at),
                key: key.into(),
            })
        };
        assert_eq!(Checkpoint::int_key(cp("10")).unwrap(), Some((at, 10)));
        assert!(Checkpoint::int_key(cp("x1")).is_err());
        assert_eq!(Checkpoint::int_key(None).unwrap(), None);
        assert_eq!(
            Checkpoint::text_key(cp("C1")).unwrap(),
            Some((at, "C1".into()))
        );
        assert!(Checkpoint::version_text_key(cp("C1")).is_err());
        let versioned = Some(Checkpoint {
            at: Position::Version(771),
            key: "3".into(),
        });
        assert_eq!(
            Checkpoint::version_int_key(versioned.clone()).unwrap(),
            Some((771, 3))
        );
        assert!(Checkpoint::text_key(versioned).is_err());
    }
}
