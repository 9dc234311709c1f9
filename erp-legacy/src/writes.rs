//! ERP writes to the legacy database: optimistic concurrency on a record's version
//! (`If-Match`), and the acting principal stamped in the columns the mapping names for
//! it (`updated_by`, `created_by`).
//!
//! The version is the record's `updated_at` as read: every ERP write sets it, and the
//! conditional update compares it in the same statement (`WHERE id = .. AND updated_at
//! = ..`), so two writers holding the same version cannot both win.

use chrono::{DateTime, SecondsFormat, Utc};
use erp_core::sql::{Executor, Scope};
use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::{ClearanceRecord, ClearanceStatus, LegacyError, Result, SqlLegacyRepository};

/// Longest principal name stamped: the legacy columns are not ours, and an `NVARCHAR(128)`
/// (SQL Server's `sysname`) is the common size of such columns.
pub const MAX_STAMP_LEN: usize = 128;

/// A record's version: an opaque, strong entity tag for `ETag` / `If-Match`.
///
/// ```
/// use erp_legacy::RowVersion;
///
/// let v = RowVersion::of("2026-01-06T10:00:00.000001Z".parse().unwrap());
/// assert_eq!(v.etag(), "\"2026-01-06T10:00:00.000001Z\"");
/// assert_eq!(RowVersion::from_etag(&v.etag()).unwrap(), v);
/// assert!(RowVersion::from_etag("W/\"2026-01-06T10:00:00Z\"").is_err(), "weak tags never match");
/// assert!(RowVersion::from_etag("\"yesterday\"").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowVersion(DateTime<Utc>);

impl RowVersion {
    /// The version of a record last changed at `updated_at`.
    pub fn of(updated_at: DateTime<Utc>) -> Self {
        Self(updated_at)
    }

    /// The quoted entity tag.
    pub fn etag(&self) -> String {
        format!(
            "\"{}\"",
            self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true)
        )
    }

    /// Parses an entity tag made by [`RowVersion::etag`]. A weak tag (`W/"..."`) is
    /// refused: `If-Match` compares strongly (RFC 9110 13.1.1).
    pub fn from_etag(tag: &str) -> Result<Self> {
        let invalid = || LegacyError::InvalidInput {
            field: "If-Match",
            message: "not an entity tag of this record".into(),
        };
        let inner = tag
            .trim()
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .ok_or_else(invalid)?;
        let at = DateTime::parse_from_rfc3339(inner).map_err(|_| invalid())?;
        Ok(Self(at.with_timezone(&Utc)))
    }
}

/// A change to a clearance record: each field given is set, the others kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClearanceChange {
    /// New workflow status.
    pub status: Option<ClearanceStatus>,
    /// New notes; `Some(None)` clears them.
    pub notes: Option<Option<String>>,
}

/// The principal's name as stamped: 1..=[`MAX_STAMP_LEN`] printable characters.
pub(crate) fn check_stamp(by: &str) -> Result<&str> {
    if by.trim().is_empty()
        || by.chars().count() > MAX_STAMP_LEN
        || by.chars().any(char::is_control)
    {
        return Err(LegacyError::InvalidInput {
            field: "principal",
            message: format!("must be 1 to {MAX_STAMP_LEN} printable characters"),
        });
    }
    Ok(by)
}

impl<E: Executor> SqlLegacyRepository<E> {
    /// Applies `change` to clearance record `id` if it is still at `expected` (none:
    /// whatever its version), stamping `by` where the mapping names `updated_by`.
    pub(crate) async fn write_clearance(
        &self,
        id: i64,
        change: &ClearanceChange,
        expected: Option<RowVersion>,
        by: Option<&str>,
    ) -> Result<ClearanceRecord> {
        let id = crate::repo::check_id(id)?;
        if change.status.is_none() && change.notes.is_none() {
            return Err(LegacyError::InvalidInput {
                field: "body",
                message: "name a status or notes to change".into(),
            });
        }
        if let Some(Some(notes)) = &change.notes
            && notes.chars().count() > 2000
        {
            return Err(LegacyError::InvalidInput {
                field: "notes",
                message: "longer than 2000 characters".into(),
            });
        }
        let by = by.map(check_stamp).transpose()?;
        let c = &self.mapping().clearance;
        let mut q = Query::update();
        q.table(self.table(&c.table));
        if let Some(status) = change.status {
            q.value(Alias::new(&c.status), status.as_str());
        }
        if let Some(notes) = &change.notes {
            q.value(Alias::new(&c.notes), notes.clone());
        }
        q.value(Alias::new(&c.updated_at), erp_core::time::now());
        if let (Some(column), Some(by)) = (&c.updated_by, by) {
            q.value(Alias::new(column), by);
        }
        q.and_where(Expr::col(Alias::new(&c.id)).eq(id));
        if let Some(RowVersion(at)) = expected {
            q.and_where(Expr::col(Alias::new(&c.updated_at)).eq(self.watermark(at)));
        }
        use crate::LegacyRepository as _;
        if self.executor().execute(Scope::Global, &q.into()).await? == 0 {
            // Nothing matched: gone, or changed since `expected`.
            return Err(match self.clearance(id).await? {
                None => LegacyError::NotFound("clearance record"),
                Some(_) => LegacyError::PreconditionFailed("the clearance record"),
            });
        }
        self.clearance(id)
            .await?
            .ok_or(LegacyError::NotFound("clearance record"))
    }
}
