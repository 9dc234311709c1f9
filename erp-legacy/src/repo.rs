//! The legacy repository: queries written once with sea-query, run by any executor
//! (SQL Server through the T-SQL backend, PostgreSQL, SQLite).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use erp_core::{
    Backend,
    sql::{Executor, Row, Scope, Statement},
};
use sea_query::{
    Alias, Asterisk, Cond, Expr, ExprTrait, Func, IntoTableRef, LikeExpr, Order, Query,
    SelectStatement, TableRef,
};

use crate::{
    ClearanceRecord, ClearanceStatus, Client, LegacyError, LegacyMapping, NewShipment, Page, Paged,
    Result, Shipment,
    writes::{ClearanceChange, RowVersion, check_stamp},
};

/// What the ERP reads from and writes to the legacy database.
#[async_trait]
pub trait LegacyRepository: Send + Sync {
    /// Clients whose code or name contains `query` (ignoring case), ordered by code.
    async fn search_clients(&self, query: Option<&str>, page: Page) -> Result<Paged<Client>>;
    /// A client by code.
    async fn client(&self, code: &str) -> Result<Option<Client>>;
    /// A clearance record by id.
    async fn clearance(&self, id: i64) -> Result<Option<ClearanceRecord>>;
    /// A client's shipments, newest departure first.
    async fn shipments_by_client(&self, client_code: &str, page: Page) -> Result<Paged<Shipment>>;
    /// A shipment by bill of lading number.
    async fn shipment_by_bl(&self, bl_no: &str) -> Result<Option<Shipment>>;
    /// Sets a clearance record's status and notes; returns the updated record.
    async fn update_clearance_status(
        &self,
        id: i64,
        status: ClearanceStatus,
        notes: Option<&str>,
    ) -> Result<ClearanceRecord>;
    /// Books a shipment for an existing client; returns it with its new id.
    async fn insert_shipment(&self, shipment: NewShipment) -> Result<Shipment>;
    /// Applies `change` to a clearance record if it is still at `expected` (none: at
    /// whatever version), stamped with the acting principal `by` where the mapping
    /// names `updated_by`; [`LegacyError::PreconditionFailed`] when it changed since.
    async fn change_clearance(
        &self,
        id: i64,
        change: &ClearanceChange,
        expected: Option<RowVersion>,
        by: &str,
    ) -> Result<ClearanceRecord>;
    /// [`LegacyRepository::insert_shipment`] stamped with the acting principal `by`
    /// where the mapping names `created_by` / `updated_by`.
    async fn book_shipment(&self, shipment: NewShipment, by: &str) -> Result<Shipment>;
}

fn check_key(field: &'static str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(LegacyError::InvalidInput {
            field,
            message: format!("must be 1 to {max} printable characters"),
        });
    }
    Ok(v.to_owned())
}

pub(crate) fn check_id(id: i64) -> Result<i64> {
    if id > 0 {
        Ok(id)
    } else {
        Err(LegacyError::InvalidInput {
            field: "id",
            message: "must be a positive integer".into(),
        })
    }
}

pub(crate) fn a(name: &str) -> Alias {
    Alias::new(name)
}

/// [`LegacyRepository`] over any [`Executor`] with a [`LegacyMapping`].
#[derive(Debug, Clone)]
pub struct SqlLegacyRepository<E> {
    exec: E,
    mapping: Arc<LegacyMapping>,
}

impl<E: Executor> SqlLegacyRepository<E> {
    /// Wraps an executor; check the mapping first with [`LegacyMapping::check`].
    pub fn new(exec: E, mapping: LegacyMapping) -> Self {
        Self {
            exec,
            mapping: Arc::new(mapping),
        }
    }

    /// The executor.
    pub fn executor(&self) -> &E {
        &self.exec
    }

    /// The mapping.
    pub fn mapping(&self) -> &LegacyMapping {
        &self.mapping
    }

    pub(crate) fn table(&self, name: &str) -> TableRef {
        match &self.mapping.schema {
            Some(schema) => (a(schema), a(name)).into_table_ref(),
            None => a(name).into_table_ref(),
        }
    }

    /// `SELECT col AS alias, ...` from a mapped table: fields come back under their
    /// canonical names whatever the mapping says, so decoding never depends on it.
    ///
    /// `updated_at`: the column read as `updated_at`; none for a sync that detects
    /// changes without it (the record then carries the time it was read).
    fn select_aliased(
        &self,
        table: &str,
        fields: &[(&String, &str)],
        updated_at: Option<&String>,
    ) -> SelectStatement {
        let mut q = Query::select();
        for (col, alias) in fields {
            q.expr_as(Expr::col(a(col)), a(alias));
        }
        if let Some(col) = updated_at {
            q.expr_as(Expr::col(a(col)), a("updated_at"));
        }
        q.from(self.table(table)).to_owned()
    }

    pub(crate) fn select_clients(&self) -> SelectStatement {
        self.select_clients_with(true)
    }

    pub(crate) fn select_clearance(&self) -> SelectStatement {
        self.select_clearance_with(true)
    }

    pub(crate) fn select_shipments(&self) -> SelectStatement {
        self.select_shipments_with(true)
    }

    pub(crate) fn select_clients_with(&self, updated_at: bool) -> SelectStatement {
        let c = &self.mapping.clients;
        self.select_aliased(
            &c.table,
            &[
                (&c.code, "code"),
                (&c.name, "name"),
                (&c.business_reg_no, "business_reg_no"),
                (&c.contact_name, "contact_name"),
                (&c.contact_phone, "contact_phone"),
                (&c.contact_email, "contact_email"),
                (&c.address, "address"),
                (&c.currency, "currency"),
                (&c.is_active, "is_active"),
            ],
            updated_at.then_some(&c.updated_at),
        )
    }

    pub(crate) fn select_clearance_with(&self, updated_at: bool) -> SelectStatement {
        let c = &self.mapping.clearance;
        self.select_aliased(
            &c.table,
            &[
                (&c.id, "id"),
                (&c.clearance_no, "clearance_no"),
                (&c.client_code, "client_code"),
                (&c.declaration_date, "declaration_date"),
                (&c.hs_code, "hs_code"),
                (&c.customs_value, "customs_value"),
                (&c.currency, "currency"),
                (&c.duty, "duty"),
                (&c.status, "status"),
                (&c.notes, "notes"),
            ],
            updated_at.then_some(&c.updated_at),
        )
    }

    pub(crate) fn select_shipments_with(&self, updated_at: bool) -> SelectStatement {
        let s = &self.mapping.shipments;
        self.select_aliased(
            &s.table,
            &[
                (&s.id, "id"),
                (&s.bl_no, "bl_no"),
                (&s.client_code, "client_code"),
                (&s.container_no, "container_no"),
                (&s.origin, "origin"),
                (&s.destination, "destination"),
                (&s.etd, "etd"),
                (&s.eta, "eta"),
                (&s.status, "status"),
            ],
            updated_at.then_some(&s.updated_at),
        )
    }

    pub(crate) async fn all(&self, stmt: impl Into<Statement>) -> Result<Vec<Row>> {
        Ok(self.exec.fetch_all(Scope::Global, &stmt.into()).await?)
    }

    pub(crate) async fn count(&self, table: &str, cond: Cond) -> Result<u64> {
        let q = Query::select()
            .expr_as(Func::count(Expr::col(Asterisk)), a("total"))
            .from(self.table(table))
            .cond_where(cond)
            .to_owned();
        let rows = self.all(q).await?;
        let total: i64 = rows
            .first()
            .map(|r| r.get("total"))
            .transpose()?
            .unwrap_or(0);
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// A checkpoint's timestamp in the watermark column's own type. SQL Server and
    /// Babelfish convert a column compared with a parameter of a higher-precedence type:
    /// a `DATETIME2` column against a `datetimeoffset` parameter (what a UTC instant
    /// binds as) is cast row by row, in a filter instead of an index condition. The
    /// legacy database stores naive UTC (as the decoder reads it), so the watermark goes
    /// as a naive UTC `datetime2`, which also compares correctly with a
    /// `DATETIMEOFFSET` column. PostgreSQL and SQLite compare the instant as it is.
    pub(crate) fn watermark(&self, at: DateTime<Utc>) -> sea_query::Value {
        match self.exec.backend() {
            Backend::Mssql => at.naive_utc().into(),
            _ => at.into(),
        }
    }
}

// Each record is decoded from a row the decoder owns, so text moves out instead of
// being copied: a sync batch decodes tens of thousands of rows it never keeps. The
// `&Row` forms are for the handful of rows other queries return.

fn decode_client(r: &Row) -> Result<Client> {
    client_from(r.clone())
}

fn decode_clearance(r: &Row) -> Result<ClearanceRecord> {
    clearance_from(r.clone())
}

fn decode_shipment(r: &Row) -> Result<Shipment> {
    shipment_from(r.clone())
}

/// `CHAR` keys come back padded on some servers. Most are not: look at both ends before
/// paying for a trim (a sync batch checks two keys per row).
fn trimmed(s: String) -> String {
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        s.trim().to_owned()
    } else {
        s
    }
}

/// The row's `updated_at`; a row read without one (a table whose sync detects changes
/// by rowversion or hash, see [`crate::ChangeDetection`]) was read now.
fn updated_at(r: &mut Row) -> Result<DateTime<Utc>> {
    if r.columns().iter().any(|c| c == "updated_at") {
        Ok(r.take("updated_at")?)
    } else {
        Ok(erp_core::time::now())
    }
}

pub(crate) fn client_from(mut r: Row) -> Result<Client> {
    Ok(Client {
        code: trimmed(r.take("code")?),
        name: r.take("name")?,
        business_reg_no: r.take("business_reg_no")?,
        contact_name: r.take("contact_name")?,
        contact_phone: r.take("contact_phone")?,
        contact_email: r.take("contact_email")?,
        address: r.take("address")?,
        currency: trimmed(r.take("currency")?),
        is_active: r.take("is_active")?,
        updated_at: updated_at(&mut r)?,
    })
}

pub(crate) fn clearance_from(mut r: Row) -> Result<ClearanceRecord> {
    Ok(ClearanceRecord {
        id: r.take("id")?,
        clearance_no: r.take("clearance_no")?,
        client_code: trimmed(r.take("client_code")?),
        declaration_date: r.take("declaration_date")?,
        hs_code: r.take("hs_code")?,
        customs_value: r.take("customs_value")?,
        currency: trimmed(r.take("currency")?),
        duty: r.take("duty")?,
        status: ClearanceStatus::parse(&r.take::<String>("status")?).map_err(|_| {
            LegacyError::Decode(erp_core::Error::Decode {
                column: "status".into(),
                message: "unknown clearance status".into(),
            })
        })?,
        notes: r.take("notes")?,
        updated_at: updated_at(&mut r)?,
    })
}

pub(crate) fn shipment_from(mut r: Row) -> Result<Shipment> {
    Ok(Shipment {
        id: r.take("id")?,
        bl_no: r.take("bl_no")?,
        client_code: trimmed(r.take("client_code")?),
        container_no: r.take("container_no")?,
        origin: r.take("origin")?,
        destination: r.take("destination")?,
        etd: r.take("etd")?,
        eta: r.take("eta")?,
        status: r.take("status")?,
        updated_at: updated_at(&mut r)?,
    })
}

/// A `LIKE` matching `term` anywhere, where `%`, `_` and the escape character in the
/// term match themselves.
///
/// SQL Server and Babelfish get T-SQL bracket escapes (`[%]`, `[_]`, `[[]`) and no
/// `ESCAPE` clause: Babelfish ignores an `ESCAPE` character right after a `%` wildcard
/// (`LIKE '%\%%' ESCAPE '\'` finds nothing there), while brackets work on both. PostgreSQL
/// and SQLite have no bracket classes in `LIKE`, so they get `\` and `ESCAPE '\'`.
fn like_term(term: &str, backend: Backend) -> LikeExpr {
    let term = term.to_lowercase();
    let mut p = String::with_capacity(term.len() + 8);
    p.push('%');
    let tsql = backend == Backend::Mssql;
    for ch in term.chars() {
        match (tsql, ch) {
            (true, '%' | '_' | '[') => {
                p.push('[');
                p.push(ch);
                p.push(']');
            }
            (false, '%' | '_' | '\\') => {
                p.push('\\');
                p.push(ch);
            }
            _ => p.push(ch),
        }
    }
    p.push('%');
    if tsql {
        LikeExpr::new(p)
    } else {
        LikeExpr::new(p).escape('\\')
    }
}

#[async_trait]
impl<E: Executor> LegacyRepository for SqlLegacyRepository<E> {
    async fn search_clients(&self, query: Option<&str>, page: Page) -> Result<Paged<Client>> {
        let c = &self.mapping.clients;
        let page = Page::new(page.page, page.page_size);
        let mut cond = Cond::all();
        if let Some(term) = query.map(str::trim).filter(|t| !t.is_empty()) {
            let term = check_key("q", term, 100)?;
            let like = like_term(&term, self.executor().backend());
            cond = cond.add(
                Cond::any()
                    .add(Expr::expr(Func::lower(Expr::col(a(&c.code)))).like(like.clone()))
                    .add(Expr::expr(Func::lower(Expr::col(a(&c.name)))).like(like)),
            );
        }
        let total = self.count(&c.table, cond.clone()).await?;
        let q = self
            .select_clients()
            .cond_where(cond)
            .order_by(a(&c.code), Order::Asc)
            .limit(u64::from(page.page_size))
            .offset(page.offset())
            .to_owned();
        let items = self
            .all(q)
            .await?
            .iter()
            .map(decode_client)
            .collect::<Result<_>>()?;
        Ok(Paged {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    async fn client(&self, code: &str) -> Result<Option<Client>> {
        let code = check_key("code", code, 40)?;
        let q = self
            .select_clients()
            .and_where(Expr::col(a(&self.mapping.clients.code)).eq(code))
            .to_owned();
        self.all(q).await?.first().map(decode_client).transpose()
    }

    async fn clearance(&self, id: i64) -> Result<Option<ClearanceRecord>> {
        let id = check_id(id)?;
        let q = self
            .select_clearance()
            .and_where(Expr::col(a(&self.mapping.clearance.id)).eq(id))
            .to_owned();
        self.all(q).await?.first().map(decode_clearance).transpose()
    }

    async fn shipments_by_client(&self, client_code: &str, page: Page) -> Result<Paged<Shipment>> {
        let s = &self.mapping.shipments;
        let code = check_key("client", client_code, 40)?;
        let page = Page::new(page.page, page.page_size);
        let cond = Cond::all().add(Expr::col(a(&s.client_code)).eq(code));
        let total = self.count(&s.table, cond.clone()).await?;
        let q = self
            .select_shipments()
            .cond_where(cond)
            .order_by(a(&s.id), Order::Desc)
            .limit(u64::from(page.page_size))
            .offset(page.offset())
            .to_owned();
        let items = self
            .all(q)
            .await?
            .iter()
            .map(decode_shipment)
            .collect::<Result<_>>()?;
        Ok(Paged {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    async fn shipment_by_bl(&self, bl_no: &str) -> Result<Option<Shipment>> {
        let bl = check_key("bl_no", bl_no, 40)?;
        let q = self
            .select_shipments()
            .and_where(Expr::col(a(&self.mapping.shipments.bl_no)).eq(bl))
            .to_owned();
        self.all(q).await?.first().map(decode_shipment).transpose()
    }

    async fn update_clearance_status(
        &self,
        id: i64,
        status: ClearanceStatus,
        notes: Option<&str>,
    ) -> Result<ClearanceRecord> {
        let change = ClearanceChange {
            status: Some(status),
            notes: Some(notes.map(str::to_owned)),
        };
        self.write_clearance(id, &change, None, None).await
    }

    async fn change_clearance(
        &self,
        id: i64,
        change: &ClearanceChange,
        expected: Option<RowVersion>,
        by: &str,
    ) -> Result<ClearanceRecord> {
        self.write_clearance(id, change, expected, Some(by)).await
    }

    async fn insert_shipment(&self, new: NewShipment) -> Result<Shipment> {
        self.write_shipment(new, None).await
    }

    async fn book_shipment(&self, new: NewShipment, by: &str) -> Result<Shipment> {
        self.write_shipment(new, Some(by)).await
    }
}

impl<E: Executor> SqlLegacyRepository<E> {
    async fn write_shipment(&self, new: NewShipment, by: Option<&str>) -> Result<Shipment> {
        let by = by.map(check_stamp).transpose()?;
        let s = &self.mapping.shipments;
        let bl = check_key("bl_no", &new.bl_no, 40)?;
        let client = check_key("client_code", &new.client_code, 40)?;
        let origin = check_key("origin", &new.origin, 80)?;
        let destination = check_key("destination", &new.destination, 80)?;
        let status = check_key("status", new.status.as_deref().unwrap_or("BOOKED"), 20)?;
        let container = new
            .container_no
            .as_deref()
            .map(|c| check_key("container_no", c, 20))
            .transpose()?;
        if let (Some(etd), Some(eta)) = (new.etd, new.eta)
            && eta < etd
        {
            return Err(LegacyError::InvalidInput {
                field: "eta",
                message: "before the departure".into(),
            });
        }
        if self.client(&client).await?.is_none() {
            return Err(LegacyError::NotFound("client"));
        }
        let mut columns = vec![
            a(&s.bl_no),
            a(&s.client_code),
            a(&s.container_no),
            a(&s.origin),
            a(&s.destination),
            a(&s.etd),
            a(&s.eta),
            a(&s.status),
            a(&s.updated_at),
        ];
        let mut values: Vec<sea_query::Expr> = vec![
            bl.clone().into(),
            client.into(),
            container.into(),
            origin.into(),
            destination.into(),
            new.etd.into(),
            new.eta.into(),
            status.into(),
            erp_core::time::now().into(),
        ];
        if let Some(by) = by {
            for column in [&s.created_by, &s.updated_by].into_iter().flatten() {
                columns.push(a(column));
                values.push(by.into());
            }
        }
        let q = Query::insert()
            .into_table(self.table(&s.table))
            .columns(columns)
            .values(values)
            .map_err(|e| LegacyError::Internal(e.to_string()))?
            .returning_col(a(&s.id))
            .to_owned();
        let rows = self
            .exec
            .fetch_all(Scope::Global, &q.into())
            .await
            .map_err(|e| match e {
                e @ erp_core::Error::Conflict { .. } => LegacyError::Conflict {
                    what: "shipment B/L number",
                    source: e,
                },
                other => other.into(),
            })?;
        let id: i64 = rows
            .first()
            .map(|r| r.get(&s.id))
            .transpose()?
            .ok_or(LegacyError::NotFound("inserted shipment"))?;
        let q = self
            .select_shipments()
            .and_where(Expr::col(a(&s.id)).eq(id))
            .to_owned();
        self.all(q)
            .await?
            .first()
            .map(decode_shipment)
            .transpose()?
            .ok_or(LegacyError::NotFound("shipment"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_cannot_inject_wildcards() {
        let select = |backend| {
            Query::select()
                .column(a("x"))
                .from(a("t"))
                .and_where(Expr::col(a("x")).like(like_term("Ab%_\\[", backend)))
                .to_owned()
        };
        let pg = select(Backend::Postgres).to_string(sea_query::PostgresQueryBuilder);
        assert!(
            pg.ends_with(r#""x" LIKE E'%ab\\%\\_\\\\[%' ESCAPE E'\\'"#),
            "{pg}"
        );
        let tsql = select(Backend::Mssql).to_string(crate::tsql::TsqlQueryBuilder);
        assert!(tsql.ends_with(r"[x] LIKE N'%ab[%][_]\[[]%'"), "{tsql}");
    }

    #[test]
    fn padded_keys_are_trimmed() {
        assert_eq!(trimmed("C001".into()), "C001");
        assert_eq!(trimmed(" HKD  ".into()), "HKD");
        assert_eq!(trimmed("\u{3000}x".into()), "x");
        assert_eq!(trimmed(String::new()), "");
    }

    #[test]
    fn keys_and_ids_are_checked() {
        assert!(check_key("code", "  ", 40).is_err());
        assert!(check_key("code", "a\u{0}", 40).is_err());
        assert!(check_key("code", &"x".repeat(41), 40).is_err());
        assert_eq!(check_key("code", " C001 ", 40).unwrap(), "C001");
        assert!(check_id(0).is_err() && check_id(-5).is_err());
    }
}
