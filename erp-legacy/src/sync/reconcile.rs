//! Deletes: the pass that finds rows of an ERP copy whose legacy row is gone.
//!
//! A deleted row leaves no trace for the watermark to find, so the copy's keys are
//! compared with the source's: in the copy's key order, a bounded batch at a time, each
//! batch's keys looked up in the source by value (`key IN (..)`), never by range. A
//! range would compare keys in two collations (a case-insensitive SQL Server one, the
//! ERP database's), and a key ordered differently by the two would be missing from the
//! source's range and wrongly marked; equality means the same on both.
//!
//! Each batch's marks (or removals) and the pass's cursor commit in one transaction,
//! so a pass killed midway resumes after its last committed batch: a batch is decided
//! on a fresh read of the source, and a batch rolled back marked nothing.

use std::collections::HashSet;

use erp_core::sql::{Executor, Scope, Statement};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query, Value};

use super::spec::{DELETED_AT, Key};
use crate::{LegacyError, OnDelete, Result, SqlLegacyRepository};

const TABLE: &str = "legacy_sync_reconcile";

/// Keys looked up in the source per statement: SQL Server binds at most 2100
/// parameters, and `IN` lists longer than this gain nothing per round trip.
pub(super) const MAX_BATCH: u64 = 2_000;

fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// How a table's keys are typed: integer keys order as integers, not as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    Int,
    Text,
}

/// A key owned, as read from either side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum OwnedKey {
    Int(i64),
    Text(String),
}

impl OwnedKey {
    pub(super) fn read(row: &erp_core::sql::Row, column: &str, kind: KeyKind) -> Result<Self> {
        Ok(match kind {
            KeyKind::Int => Self::Int(row.get(column)?),
            // `CHAR` keys come back padded from some servers; the copy holds them trimmed.
            KeyKind::Text => Self::Text(row.get::<String>(column)?.trim().to_owned()),
        })
    }

    pub(super) fn parse(text: String, kind: KeyKind) -> Result<Self> {
        match kind {
            KeyKind::Text => Ok(Self::Text(text)),
            KeyKind::Int => text
                .parse()
                .map(Self::Int)
                .map_err(|_| LegacyError::Config(format!("corrupt reconcile cursor {text:?}"))),
        }
    }

    pub(super) fn to_text(&self) -> String {
        match self {
            Self::Int(k) => k.to_string(),
            Self::Text(k) => k.clone(),
        }
    }

    pub(super) fn value(&self) -> Value {
        match self {
            Self::Int(k) => (*k).into(),
            Self::Text(k) => k.as_str().into(),
        }
    }
}

impl From<Key<'_>> for OwnedKey {
    fn from(key: Key<'_>) -> Self {
        match key {
            Key::Int(k) => Self::Int(k),
            Key::Text(k) => Self::Text(k.to_owned()),
        }
    }
}

/// One table's copy, as the pass sees it.
#[derive(Debug, Clone, Copy)]
pub(super) struct CopiedTable<'a> {
    /// The ERP copy.
    pub(super) table: &'static str,
    /// Its key column (named as the record field is in the copy).
    pub(super) key: &'static str,
    pub(super) kind: KeyKind,
    /// The legacy table and its key column, as the mapping names them.
    pub(super) source_table: &'a str,
    pub(super) source_key: &'a str,
    pub(super) policy: OnDelete,
}

/// Runs (or resumes) the pass over one copy; returns the rows marked or removed.
pub(super) async fn reconcile<S: Executor>(
    source: &SqlLegacyRepository<S>,
    target: &impl Executor,
    copy: CopiedTable<'_>,
    batch_size: u64,
) -> Result<u64> {
    let limit = batch_size.clamp(1, MAX_BATCH);
    let mut cursor = load(target, copy).await?;
    let mut deleted = 0;
    loop {
        let keys = copy_keys(target, copy, cursor.as_ref(), limit).await?;
        let present = source_keys(source, copy, &keys).await?;
        let missing: Vec<Value> = keys
            .iter()
            .filter(|k| !present.contains(*k))
            .map(OwnedKey::value)
            .collect();
        let gone = missing.len() as u64;
        let mut statements = Vec::with_capacity(2);
        if !missing.is_empty() {
            statements.push(mark(copy, missing));
        }
        let done = (keys.len() as u64) < limit;
        match keys.last() {
            Some(last) if !done => statements.push(save(copy.table, last, gone)?),
            _ => statements.push(finish(copy.table)),
        }
        target.execute_batch(Scope::Global, &statements).await?;
        deleted += gone;
        if done {
            break;
        }
        cursor = keys.into_iter().last();
    }
    if deleted > 0 {
        tracing::info!(table = copy.table, deleted, "legacy rows gone");
    }
    Ok(deleted)
}

/// Where an interrupted pass stopped; none: start from the first key.
async fn load(target: &impl Executor, copy: CopiedTable<'_>) -> Result<Option<OwnedKey>> {
    let q = Query::select()
        .column(a("last_key"))
        .from(a(TABLE))
        .and_where(Expr::col(a("table_name")).eq(copy.table))
        .to_owned();
    match target.fetch_optional(Scope::Global, &q.into()).await? {
        Some(row) => Ok(Some(OwnedKey::parse(row.get("last_key")?, copy.kind)?)),
        None => Ok(None),
    }
}

/// The next `limit` keys of the copy after `cursor`, in key order. Rows already marked
/// are left out: they stay marked until their legacy row comes back, which the copy
/// pass sees. With [`OnDelete::Remove`] they are looked at again, so a table switched
/// from marking to removing loses its marked rows too.
async fn copy_keys(
    target: &impl Executor,
    copy: CopiedTable<'_>,
    cursor: Option<&OwnedKey>,
    limit: u64,
) -> Result<Vec<OwnedKey>> {
    let mut q = Query::select();
    q.column(a(copy.key))
        .from(a(copy.table))
        .order_by(a(copy.key), Order::Asc)
        .limit(limit);
    if let Some(after) = cursor {
        q.and_where(Expr::col(a(copy.key)).gt(after.value()));
    }
    if copy.policy == OnDelete::Mark {
        q.and_where(Expr::col(a(DELETED_AT)).is_null());
    }
    target
        .fetch_all(Scope::Global, &q.into())
        .await?
        .iter()
        .map(|r| OwnedKey::read(r, copy.key, copy.kind))
        .collect()
}

/// Which of `keys` the legacy table still has.
async fn source_keys<S: Executor>(
    source: &SqlLegacyRepository<S>,
    copy: CopiedTable<'_>,
    keys: &[OwnedKey],
) -> Result<HashSet<OwnedKey>> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let q = Query::select()
        .expr_as(Expr::col(a(copy.source_key)), a("k"))
        .from(source.table(copy.source_table))
        .and_where(Expr::col(a(copy.source_key)).is_in(keys.iter().map(OwnedKey::value)))
        .to_owned();
    source
        .executor()
        .fetch_all(Scope::Global, &q.into())
        .await?
        .iter()
        .map(|r| OwnedKey::read(r, "k", copy.kind))
        .collect()
}

/// Marks or removes the rows of `keys`.
fn mark(copy: CopiedTable<'_>, keys: Vec<Value>) -> Statement {
    let which = Expr::col(a(copy.key)).is_in(keys);
    match copy.policy {
        OnDelete::Mark => Query::update()
            .table(a(copy.table))
            .value(a(DELETED_AT), erp_core::time::now())
            .and_where(which)
            .and_where(Expr::col(a(DELETED_AT)).is_null())
            .to_owned()
            .into(),
        OnDelete::Remove => Query::delete()
            .from_table(a(copy.table))
            .and_where(which)
            .to_owned()
            .into(),
    }
}

/// Moves the pass's cursor to `last`, counting `gone` more rows.
fn save(table: &str, last: &OwnedKey, gone: u64) -> Result<Statement> {
    let gone = i64::try_from(gone).unwrap_or(i64::MAX);
    Ok(Query::insert()
        .into_table(a(TABLE))
        .columns([
            a("table_name"),
            a("last_key"),
            a("rows_deleted"),
            a("updated_at"),
        ])
        .values([
            table.into(),
            last.to_text().into(),
            gone.into(),
            erp_core::time::now().into(),
        ])
        .map_err(|e| LegacyError::Config(e.to_string()))?
        .on_conflict(
            OnConflict::column(a("table_name"))
                .update_columns([a("last_key"), a("updated_at")])
                .value(
                    a("rows_deleted"),
                    Expr::col((a(TABLE), a("rows_deleted"))).add(gone),
                )
                .to_owned(),
        )
        .to_owned()
        .into())
}

/// The pass reached the end: the next one starts from the first key.
fn finish(table: &str) -> Statement {
    Query::delete()
        .from_table(a(TABLE))
        .and_where(Expr::col(a("table_name")).eq(table))
        .to_owned()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_keep_their_key_type() {
        assert_eq!(
            OwnedKey::parse("10".into(), KeyKind::Int).unwrap(),
            OwnedKey::Int(10)
        );
        assert!(OwnedKey::parse("C1".into(), KeyKind::Int).is_err());
        let text = OwnedKey::parse("C1".into(), KeyKind::Text).unwrap();
        assert_eq!(text.to_text(), "C1");
        assert_eq!(OwnedKey::Int(7).value(), Value::from(7_i64));
    }
}
