//! The sync's change feed: what [`LegacySync`](crate::sync::LegacySync) reads from the
//! legacy database through a [`SqlLegacyRepository`], a batch of rows changed after a
//! checkpoint at a time (by `updated_at`, by `rowversion`, or in key order for a hash
//! pass), and the row count its progress is measured against.

use chrono::{DateTime, Utc};
use erp_core::{
    Backend,
    sql::{Executor, Row},
};
use sea_query::{Cond, Expr, ExprTrait, Order, Query, SelectStatement, Value};

use crate::{
    ClearanceRecord, Client, LegacyError, Result, Shipment,
    repo::{SqlLegacyRepository, a, clearance_from, client_from, shipment_from},
};

/// A record read by its `rowversion` cursor, with the row's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The record.
    pub record: T,
    /// The 8-byte `rowversion`, big-endian, as a signed integer (how the checkpoint
    /// stores it; the order is the bytes' order below 2^63, which a database reaches
    /// after 9.2e18 writes).
    pub version: i64,
}

/// The alias the rowversion column is read under.
const VERSION: &str = "row_version";

impl<E: Executor> SqlLegacyRepository<E> {
    /// Rows of the mapped table `table`.
    pub(crate) async fn count_all(&self, table: &str) -> Result<u64> {
        self.count(table, Cond::all()).await
    }

    /// Clients changed after `(updated_at, code)`, in that order: one sync batch.
    pub async fn clients_changed(
        &self,
        after: Option<(DateTime<Utc>, String)>,
        limit: u64,
    ) -> Result<Vec<Client>> {
        let c = &self.mapping().clients;
        let q = self.select_clients();
        let after = after.map(|(at, k)| (self.watermark(at), k));
        self.changed(q, &c.updated_at, &c.code, after, limit, client_from)
            .await
    }

    /// Clearance records changed after `(updated_at, id)`.
    pub async fn clearance_changed(
        &self,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u64,
    ) -> Result<Vec<ClearanceRecord>> {
        let c = &self.mapping().clearance;
        let q = self.select_clearance();
        let after = after.map(|(at, k)| (self.watermark(at), k));
        self.changed(q, &c.updated_at, &c.id, after, limit, clearance_from)
            .await
    }

    /// Shipments changed after `(updated_at, id)`.
    pub async fn shipments_changed(
        &self,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u64,
    ) -> Result<Vec<Shipment>> {
        let s = &self.mapping().shipments;
        let q = self.select_shipments();
        let after = after.map(|(at, k)| (self.watermark(at), k));
        self.changed(q, &s.updated_at, &s.id, after, limit, shipment_from)
            .await
    }

    /// Clients after `(rowversion, code)` in that order, `column` the `rowversion`;
    /// `capped`: only below `MIN_ACTIVE_ROWVERSION()`.
    pub async fn clients_by_version(
        &self,
        column: &str,
        after: Option<(i64, String)>,
        limit: u64,
        capped: bool,
    ) -> Result<Vec<Versioned<Client>>> {
        let q = self.select_clients_with(false);
        let key = &self.mapping().clients.code;
        self.by_version(q, column, key, after, limit, capped, client_from)
            .await
    }

    /// Clearance records by `rowversion`, as [`Self::clients_by_version`].
    pub async fn clearance_by_version(
        &self,
        column: &str,
        after: Option<(i64, i64)>,
        limit: u64,
        capped: bool,
    ) -> Result<Vec<Versioned<ClearanceRecord>>> {
        let q = self.select_clearance_with(false);
        let key = &self.mapping().clearance.id;
        self.by_version(q, column, key, after, limit, capped, clearance_from)
            .await
    }

    /// Shipments by `rowversion`, as [`Self::clients_by_version`].
    pub async fn shipments_by_version(
        &self,
        column: &str,
        after: Option<(i64, i64)>,
        limit: u64,
        capped: bool,
    ) -> Result<Vec<Versioned<Shipment>>> {
        let q = self.select_shipments_with(false);
        let key = &self.mapping().shipments.id;
        self.by_version(q, column, key, after, limit, capped, shipment_from)
            .await
    }

    /// Clients after `code` in key order, without `updated_at`: one batch of a hash pass.
    pub async fn clients_by_key(&self, after: Option<String>, limit: u64) -> Result<Vec<Client>> {
        let q = self.select_clients_with(false);
        let key = &self.mapping().clients.code;
        self.by_key(q, key, after, limit, client_from).await
    }

    /// Clearance records after `id` in key order, as [`Self::clients_by_key`].
    pub async fn clearance_by_key(
        &self,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<ClearanceRecord>> {
        let q = self.select_clearance_with(false);
        let key = &self.mapping().clearance.id;
        self.by_key(q, key, after, limit, clearance_from).await
    }

    /// Shipments after `id` in key order, as [`Self::clients_by_key`].
    pub async fn shipments_by_key(&self, after: Option<i64>, limit: u64) -> Result<Vec<Shipment>> {
        let q = self.select_shipments_with(false);
        let key = &self.mapping().shipments.id;
        self.by_key(q, key, after, limit, shipment_from).await
    }

    /// Whether the server has `MIN_ACTIVE_ROWVERSION()` (SQL Server 2005+ has it;
    /// Babelfish 4.3 does not). Only a server that answers without it counts as not
    /// having it: an unreachable one is an error, never a silently uncapped cursor.
    pub(crate) async fn has_min_active_rowversion(&self) -> Result<bool> {
        self.require_rowversion()?;
        let q = Query::select()
            .expr_as(
                Expr::cust("CAST(MIN_ACTIVE_ROWVERSION() AS BIGINT)"),
                a("v"),
            )
            .to_owned();
        match self.all(q).await {
            Ok(_) => Ok(true),
            Err(LegacyError::Database(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Only SQL Server (and Babelfish) has `rowversion`.
    fn require_rowversion(&self) -> Result<()> {
        match self.executor().backend() {
            Backend::Mssql => Ok(()),
            other => Err(LegacyError::Config(format!(
                "rowversion change detection needs SQL Server, not {other}; use \"hash\""
            ))),
        }
    }

    /// Up to `limit` rows of `q` after `(rowversion, key)`, in that order.
    ///
    /// SQL Server gives every row its own version; Babelfish does too, except that
    /// `ALTER TABLE .. ADD rv ROWVERSION` gives all existing rows one value (seen on
    /// 4.3). So the key breaks ties as it does for equal timestamps, with the same two
    /// seeking statements ([`Self::changed`]). A row updated after it was read gets a
    /// higher version and is read again by a later batch. A row written by a
    /// transaction that commits after a later version was read would be missed for
    /// good: `capped` stops each read below `MIN_ACTIVE_ROWVERSION()`, the lowest
    /// version of a transaction still open, so such rows wait for the next run.
    #[allow(
        clippy::too_many_arguments,
        reason = "the feed's parts, each one a value"
    )]
    async fn by_version<T, K: Into<Value>>(
        &self,
        mut q: SelectStatement,
        column: &str,
        key_col: &str,
        after: Option<(i64, K)>,
        limit: u64,
        capped: bool,
        decode: fn(Row) -> Result<T>,
    ) -> Result<Vec<Versioned<T>>> {
        self.require_rowversion()?;
        q.expr_as(Expr::col(a(column)), a(VERSION));
        if capped {
            q.and_where(Expr::col(a(column)).lt(Expr::cust("MIN_ACTIVE_ROWVERSION()")));
        }
        // As binary, the column's own type: compared with a BIGINT the column would be
        // converted row by row instead of sought.
        let after = after.map(|(v, k)| (Value::Bytes(Some(v.to_be_bytes().to_vec())), k));
        let versioned = |mut row: Row| {
            let bytes: Vec<u8> = row.take(VERSION)?;
            let version = <[u8; 8]>::try_from(bytes.as_slice())
                .map(i64::from_be_bytes)
                .map_err(|_| {
                    LegacyError::Decode(erp_core::Error::Decode {
                        column: column.to_owned(),
                        message: format!("{} bytes, not a rowversion", bytes.len()),
                    })
                })?;
            Ok(Versioned {
                record: decode(row)?,
                version,
            })
        };
        self.changed(q, column, key_col, after, limit, versioned)
            .await
    }

    /// Up to `limit` rows of `q` after `after` in `key_col` order.
    async fn by_key<T, K: Into<Value>>(
        &self,
        mut q: SelectStatement,
        key_col: &str,
        after: Option<K>,
        limit: u64,
        decode: fn(Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        if let Some(after) = after {
            q.and_where(Expr::col(a(key_col)).gt(Expr::val(after.into())));
        }
        q.order_by(a(key_col), Order::Asc).limit(limit);
        self.all(q).await?.into_iter().map(decode).collect()
    }

    /// One sync batch of `q`: up to `limit` rows after `(updated_at, key)`, in that
    /// order.
    ///
    /// Two statements, each one range of the `(updated_at, key)` index: the rest of the
    /// checkpoint's timestamp (`updated_at = at AND key > last ORDER BY key`), then, if
    /// that does not fill the batch, the later timestamps (`updated_at > at`). The single
    /// statement `updated_at > at OR (updated_at = at AND key > last)` selects the same
    /// rows, but PostgreSQL (and so Babelfish) cannot seek an OR of ranges: it walks the
    /// index from its start and filters, so each batch costs more than the one before.
    /// `updated_at >= at AND (..)` would seek, yet still walk every row of the
    /// checkpoint's timestamp copied before, which after a bulk import sharing one
    /// timestamp is most of the table.
    ///
    /// `updated_col` is the watermark column, or the `rowversion` ([`Self::by_version`]);
    /// `after`'s value is already in that column's type.
    async fn changed<T, K: Into<sea_query::Value>>(
        &self,
        mut q: SelectStatement,
        updated_col: &str,
        key_col: &str,
        after: Option<(Value, K)>,
        limit: u64,
        decode: impl Fn(Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let Some((at, last)) = after else {
            let first = q
                .order_by(a(updated_col), Order::Asc)
                .order_by(a(key_col), Order::Asc)
                .limit(limit)
                .to_owned();
            return self.all(first).await?.into_iter().map(decode).collect();
        };
        let same = q
            .clone()
            .and_where(Expr::col(a(updated_col)).eq(at.clone()))
            .and_where(Expr::col(a(key_col)).gt(Expr::val(last.into())))
            .order_by(a(key_col), Order::Asc)
            .limit(limit)
            .to_owned();
        let mut rows = self
            .all(same)
            .await?
            .into_iter()
            .map(&decode)
            .collect::<Result<Vec<_>>>()?;
        let missing = limit.saturating_sub(rows.len() as u64);
        if missing > 0 {
            let later = q
                .and_where(Expr::col(a(updated_col)).gt(at))
                .order_by(a(updated_col), Order::Asc)
                .order_by(a(key_col), Order::Asc)
                .limit(missing)
                .to_owned();
            for row in self.all(later).await? {
                rows.push(decode(row)?);
            }
        }
        Ok(rows)
    }
}
