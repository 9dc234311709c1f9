//! The sync's change feed: what [`LegacySync`](crate::sync::LegacySync) reads from the
//! legacy database through a [`SqlLegacyRepository`], a batch of rows changed after a
//! checkpoint at a time, and the row count its progress is measured against.

use chrono::{DateTime, Utc};
use erp_core::sql::{Executor, Row};
use sea_query::{Cond, Expr, ExprTrait, Order, SelectStatement};

use crate::{
    ClearanceRecord, Client, Result, Shipment,
    repo::{SqlLegacyRepository, a, clearance_from, client_from, shipment_from},
};

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
        self.changed(q, &s.updated_at, &s.id, after, limit, shipment_from)
            .await
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
    async fn changed<T, K: Into<sea_query::Value>>(
        &self,
        mut q: SelectStatement,
        updated_col: &str,
        key_col: &str,
        after: Option<(DateTime<Utc>, K)>,
        limit: u64,
        decode: fn(Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let Some((at, last)) = after else {
            let first = q
                .order_by(a(updated_col), Order::Asc)
                .order_by(a(key_col), Order::Asc)
                .limit(limit)
                .to_owned();
            return self.all(first).await?.into_iter().map(decode).collect();
        };
        let at = self.watermark(at);
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
            .map(decode)
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
