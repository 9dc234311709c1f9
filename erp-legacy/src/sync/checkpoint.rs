//! Where each table's copy stands: the `(updated_at, key)` of the last row committed,
//! kept in `legacy_sync_checkpoints` in the ERP database.

use chrono::{DateTime, Utc};
use erp_core::sql::{Executor, Scope, Statement};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use super::spec::Record;
use crate::{LegacyError, Result};

const TABLE: &str = "legacy_sync_checkpoints";

fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// A position in `(updated_at, key)` order. Keys are kept as text whatever their type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Checkpoint {
    pub(super) at: DateTime<Utc>,
    pub(super) key: String,
}

impl Checkpoint {
    /// Just after `record`.
    pub(super) fn after(record: &impl Record) -> Self {
        Self {
            at: record.updated_at(),
            key: record.key().to_text(),
        }
    }

    /// The checkpoint of a table with integer keys: they must compare as integers, not
    /// as text ("10" < "9").
    pub(super) fn int_key(cp: Option<Self>) -> Result<Option<(DateTime<Utc>, i64)>> {
        cp.map(|Checkpoint { at, key }| match key.parse::<i64>() {
            Ok(k) => Ok((at, k)),
            Err(_) => Err(LegacyError::CorruptCheckpoint(format!(
                "the key {key:?} of an integer-keyed table is not an integer"
            ))),
        })
        .transpose()
    }

    /// The checkpoint of a table with text keys.
    pub(super) fn text_key(cp: Option<Self>) -> Option<(DateTime<Utc>, String)> {
        cp.map(|Checkpoint { at, key }| (at, key))
    }
}

/// The table's checkpoint, if it was ever synced.
pub(super) async fn load(target: &impl Executor, table: &str) -> Result<Option<Checkpoint>> {
    let q = Query::select()
        .columns([a("watermark"), a("last_key")])
        .from(a(TABLE))
        .and_where(Expr::col(a("table_name")).eq(table))
        .to_owned();
    let row = target.fetch_optional(Scope::Global, &q.into()).await?;
    Ok(match row {
        Some(r) => Some(Checkpoint {
            at: r.get("watermark")?,
            key: r.get("last_key")?,
        }),
        None => None,
    })
}

/// Moves the table's checkpoint to `cp` and counts `rows` more copied: run in the
/// transaction of the batch it follows.
pub(super) fn save(table: &str, cp: &Checkpoint, rows: u64) -> Result<Statement> {
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
            cp.at.into(),
            cp.key.clone().into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_keys_must_parse() {
        let at = Utc::now();
        let cp = |key: &str| {
            Some(Checkpoint {
                at,
                key: key.into(),
            })
        };
        assert_eq!(Checkpoint::int_key(cp("10")).unwrap(), Some((at, 10)));
        assert!(Checkpoint::int_key(cp("x1")).is_err());
        assert_eq!(Checkpoint::int_key(None).unwrap(), None);
        assert_eq!(Checkpoint::text_key(cp("C1")), Some((at, "C1".into())));
    }
}
