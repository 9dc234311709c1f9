//! How the sync finds a table's changed rows, per table in the mapping file's
//! `[change_detection]` section:
//!
//! ```
//! use erp_legacy::{ChangeDetection, LegacyMapping};
//!
//! let mapping = LegacyMapping::from_toml_str(r#"
//!     [change_detection]
//!     clearance = "rowversion:rv"
//!     shipments = "hash"
//! "#)?;
//! assert_eq!(mapping.change_detection.clearance, ChangeDetection::RowVersion("rv".into()));
//! assert_eq!(mapping.change_detection.shipments, ChangeDetection::Hash);
//! assert_eq!(mapping.change_detection.clients, ChangeDetection::UpdatedAt, "the default");
//! assert!(LegacyMapping::from_toml_str("[change_detection]\nclients = \"guess\"").is_err());
//! # Ok::<(), erp_legacy::LegacyError>(())
//! ```

use erp_core::{
    Backend,
    sql::{Executor, Scope},
};
use sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
use serde::Deserialize;

use crate::Result;

/// One table's change detection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ChangeDetection {
    /// `"updated_at"` (the default): the mapped `updated_at` column is the watermark;
    /// rows are read in `(updated_at, key)` order after the checkpoint.
    #[default]
    UpdatedAt,
    /// `"rowversion:<column>"`: SQL Server's `rowversion` (`timestamp`) column is the
    /// cursor, capped below `MIN_ACTIVE_ROWVERSION()` where the server has it. SQL
    /// Server (and Babelfish) only.
    RowVersion(String),
    /// `"hash"`: no cursor; every pass reads the whole table in key order and writes
    /// only the rows whose values hash differently from their copy's. Any backend.
    Hash,
}

impl ChangeDetection {
    /// The mode as the mapping file spells it.
    pub fn as_setting(&self) -> String {
        match self {
            Self::UpdatedAt => "updated_at".into(),
            Self::RowVersion(column) => format!("rowversion:{column}"),
            Self::Hash => "hash".into(),
        }
    }

    /// Whether the sync reads the mapped `updated_at` column.
    pub fn reads_updated_at(&self) -> bool {
        matches!(self, Self::UpdatedAt)
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "updated_at" => Ok(Self::UpdatedAt),
            "hash" => Ok(Self::Hash),
            other => match other.strip_prefix("rowversion:").map(str::trim) {
                Some(column) if !column.is_empty() => Ok(Self::RowVersion(column.to_owned())),
                Some(_) => {
                    Err("\"rowversion:\" needs the column's name, e.g. \"rowversion:rv\"".into())
                }
                None => Err(format!(
                    "unknown change detection {other:?}: expected \"updated_at\", \
                     \"rowversion:<column>\" or \"hash\""
                )),
            },
        }
    }
}

impl<'de> Deserialize<'de> for ChangeDetection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// [`ChangeDetection`] per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangeDetections {
    /// Clients.
    pub clients: ChangeDetection,
    /// Clearance records.
    pub clearance: ChangeDetection,
    /// Shipments.
    pub shipments: ChangeDetection,
}

/// Type names SQL Server's catalogue gives a `rowversion` column (`timestamp` is the
/// system type's name on SQL Server and on Babelfish).
const ROWVERSION_TYPES: [&str; 2] = ["timestamp", "rowversion"];

/// Checks that `table.column` is a `rowversion` column; a problem line otherwise.
pub(crate) async fn check_rowversion<E: Executor + ?Sized>(
    exec: &E,
    schema: Option<&str>,
    table: &str,
    column: &str,
) -> Result<Option<String>> {
    if exec.backend() != Backend::Mssql {
        return Ok(Some(format!(
            "{table}: rowversion change detection needs SQL Server (the legacy database \
             is {}); use \"hash\"",
            exec.backend()
        )));
    }
    let object = match schema {
        Some(s) => format!("[{}].[{}]", s.replace(']', "]]"), table.replace(']', "]]")),
        None => format!("[{}]", table.replace(']', "]]")),
    };
    let q = Query::select()
        .expr_as(
            Expr::cust("CAST(t.name AS NVARCHAR(128))"),
            Alias::new("type_name"),
        )
        .from_as(("sys", "columns"), Alias::new("c"))
        .join_as(
            JoinType::InnerJoin,
            ("sys", "types"),
            Alias::new("t"),
            Expr::cust("t.user_type_id = c.user_type_id"),
        )
        .and_where(Expr::cust_with_values(
            "c.object_id = OBJECT_ID(?)",
            [object],
        ))
        .and_where(Expr::col((Alias::new("c"), Alias::new("name"))).eq(column))
        .to_owned();
    let rows = exec.fetch_all(Scope::Global, &q.into()).await?;
    let Some(row) = rows.first() else {
        return Ok(Some(format!(
            "column {table}.{column} (the rowversion cursor) does not exist"
        )));
    };
    let ty: String = row.get("type_name")?;
    if ROWVERSION_TYPES.iter().any(|t| t.eq_ignore_ascii_case(&ty)) {
        Ok(None)
    } else {
        Ok(Some(format!(
            "column {table}.{column} is {ty}, not rowversion: it cannot be the cursor"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_or_say_what_is_expected() {
        assert_eq!(
            ChangeDetection::parse("updated_at"),
            Ok(ChangeDetection::UpdatedAt)
        );
        assert_eq!(ChangeDetection::parse(" hash "), Ok(ChangeDetection::Hash));
        assert_eq!(
            ChangeDetection::parse("rowversion: rv"),
            Ok(ChangeDetection::RowVersion("rv".into()))
        );
        assert!(
            ChangeDetection::parse("rowversion:")
                .unwrap_err()
                .contains("needs the column")
        );
        assert!(
            ChangeDetection::parse("rowversion")
                .unwrap_err()
                .contains("expected")
        );
        for mode in [
            ChangeDetection::UpdatedAt,
            ChangeDetection::Hash,
            ChangeDetection::RowVersion("rv".into()),
        ] {
            assert_eq!(ChangeDetection::parse(&mode.as_setting()), Ok(mode));
        }
    }
}
