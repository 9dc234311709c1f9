//! Which legacy tables and columns hold each field.
//!
//! The legacy schema is not ours: the default mapping matches the sample schema shipped
//! in `sql/` (and most installations derived from it); an existing database with other
//! names is described by a TOML file overriding only what differs:
//!
//! ```
//! use erp_legacy::LegacyMapping;
//!
//! let mapping = LegacyMapping::from_toml_str(r#"
//!     schema = "dbo"
//!     [clients]
//!     table = "tblCustomer"
//!     code = "CustCode"
//!     name = "CustName"
//! "#)?;
//! assert_eq!(mapping.clients.table, "tblCustomer");
//! assert_eq!(mapping.clients.currency, "currency", "unchanged fields keep the default");
//! # Ok::<(), erp_legacy::LegacyError>(())
//! ```
//!
//! [`LegacyMapping::check`] compares it with the database's catalogue at start-up, so a
//! renamed column is a clear error naming it, never a runtime surprise.

use erp_core::sql::Executor;
use serde::Deserialize;

use crate::{ChangeDetection, ChangeDetections, LegacyError, Result, change_detection};

macro_rules! table_mapping {
    ($(#[$doc:meta])* $name:ident { table: $table:literal, $($field:ident: $col:literal),+ $(,)? }
     $(optional { $($(#[$odoc:meta])* $opt:ident),+ $(,)? })?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Table name.
            pub table: String,
            $(
                #[doc = concat!("Column of `", stringify!($field), "`.")]
                pub $field: String,
            )+
            $($(
                $(#[$odoc])*
                pub $opt: Option<String>,
            )+)?
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    table: $table.into(),
                    $($field: $col.into(),)+
                    $($($opt: None,)+)?
                }
            }
        }

        impl $name {
            /// Every mapped column, in declaration order (the optional ones named).
            pub fn columns(&self) -> Vec<&str> {
                #[allow(unused_mut)]
                let mut columns = vec![$(self.$field.as_str()),+];
                $($(columns.extend(self.$opt.as_deref());)+)?
                columns
            }
        }
    };
}

table_mapping!(
    /// Columns of the clients table.
    ClientTable {
        table: "clients",
        code: "client_code",
        name: "client_name",
        business_reg_no: "business_reg_no",
        contact_name: "contact_name",
        contact_phone: "contact_phone",
        contact_email: "contact_email",
        address: "address",
        currency: "currency",
        is_active: "is_active",
        updated_at: "updated_at",
    }
);

table_mapping!(
    /// Columns of the clearance records table.
    ClearanceTable {
        table: "clearance_records",
        id: "clearance_id",
        clearance_no: "clearance_no",
        client_code: "client_code",
        declaration_date: "declaration_date",
        hs_code: "hs_code",
        customs_value: "customs_value",
        currency: "currency",
        duty: "duty_amount",
        status: "status",
        notes: "notes",
        updated_at: "updated_at",
    }
    optional {
        /// Column stamped with the acting principal on every ERP write; none: not
        /// stamped (the legacy schema has no such column).
        updated_by,
    }
);

table_mapping!(
    /// Columns of the shipments table.
    ShipmentTable {
        table: "shipments",
        id: "shipment_id",
        bl_no: "bl_no",
        client_code: "client_code",
        container_no: "container_no",
        origin: "origin_port",
        destination: "destination_port",
        etd: "etd",
        eta: "eta",
        status: "status",
        updated_at: "updated_at",
    }
    optional {
        /// Column stamped with the principal that booked the shipment; none: not stamped.
        created_by,
        /// Column stamped with the principal of the last ERP write; none: not stamped.
        updated_by,
    }
);

/// The whole mapping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LegacyMapping {
    /// Schema of the tables (`dbo` on SQL Server); none: the connection's default.
    pub schema: Option<String>,
    /// Clients.
    pub clients: ClientTable,
    /// Clearance records.
    pub clearance: ClearanceTable,
    /// Shipments.
    pub shipments: ShipmentTable,
    /// What the sync does with a copied row whose legacy row was deleted.
    pub deletes: DeletePolicies,
    /// How the sync finds changed rows, per table.
    pub change_detection: ChangeDetections,
}

/// What the sync does with a row of the ERP copy whose legacy row is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Keep the row and set its `deleted_at` (the default): reports and foreign keys
    /// in the ERP keep working, and a row that comes back is simply un-marked.
    #[default]
    Mark,
    /// Delete the row from the copy.
    Remove,
}

/// [`OnDelete`] per table, in the mapping file's `[deletes]` section:
///
/// ```
/// use erp_legacy::{LegacyMapping, OnDelete};
///
/// let mapping = LegacyMapping::from_toml_str("[deletes]\nshipments = \"remove\"")?;
/// assert_eq!(mapping.deletes.shipments, OnDelete::Remove);
/// assert_eq!(mapping.deletes.clients, OnDelete::Mark, "the default");
/// # Ok::<(), erp_legacy::LegacyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeletePolicies {
    /// Clients.
    pub clients: OnDelete,
    /// Clearance records.
    pub clearance: OnDelete,
    /// Shipments.
    pub shipments: OnDelete,
}

impl LegacyMapping {
    /// Parses a TOML override; unknown keys are errors (a typo must not silently fall
    /// back to a default name).
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let mapping: Self =
            toml::from_str(text).map_err(|e| LegacyError::Config(format!("mapping: {e}")))?;
        mapping.validate()?;
        Ok(mapping)
    }

    /// Reads a TOML override from a file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LegacyError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml_str(&text)
    }

    fn validate(&self) -> Result<()> {
        let names = std::iter::once(self.schema.as_deref().unwrap_or("dbo"))
            .chain([
                self.clients.table.as_str(),
                self.clearance.table.as_str(),
                self.shipments.table.as_str(),
            ])
            .chain(self.clients.columns())
            .chain(self.clearance.columns())
            .chain(self.shipments.columns())
            .chain(self.tables().into_iter().filter_map(|t| match t.mode {
                ChangeDetection::RowVersion(column) => Some(column.as_str()),
                _ => None,
            }));
        for name in names {
            if name.trim().is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                return Err(LegacyError::Config(format!(
                    "mapping: {name:?} is not a usable name"
                )));
            }
        }
        Ok(())
    }

    /// Each mapped table with its columns and change detection.
    fn tables(&self) -> [MappedTable<'_>; 3] {
        let d = &self.change_detection;
        [
            MappedTable {
                table: &self.clients.table,
                columns: self.clients.columns(),
                updated_at: &self.clients.updated_at,
                mode: &d.clients,
            },
            MappedTable {
                table: &self.clearance.table,
                columns: self.clearance.columns(),
                updated_at: &self.clearance.updated_at,
                mode: &d.clearance,
            },
            MappedTable {
                table: &self.shipments.table,
                columns: self.shipments.columns(),
                updated_at: &self.shipments.updated_at,
                mode: &d.shipments,
            },
        ]
    }

    /// Checks that every mapped table and column exists, listing every one that does
    /// not. Names compare without regard to case, as SQL Server does by default.
    ///
    /// The `updated_at` column must exist where it is the watermark (the default
    /// change detection); a `rowversion` cursor must exist and be of that type (SQL
    /// Server only).
    pub async fn check<E: Executor + ?Sized>(&self, exec: &E) -> Result<()> {
        let schema = self.schema.as_deref();
        let mut problems = Vec::new();
        for t in self.tables() {
            let found = exec.table_columns(schema, t.table).await?;
            if found.is_empty() {
                problems.push(format!("table {} does not exist", t.table));
                continue;
            }
            let needed = t
                .columns
                .iter()
                .filter(|c| t.mode.reads_updated_at() || **c != t.updated_at);
            for column in needed {
                if !found.iter().any(|f| f.eq_ignore_ascii_case(column)) {
                    problems.push(format!("column {}.{column} does not exist", t.table));
                }
            }
            if let ChangeDetection::RowVersion(column) = t.mode {
                problems.extend(
                    change_detection::check_rowversion(exec, schema, t.table, column).await?,
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LegacyError::SchemaMismatch { problems })
        }
    }
}

/// A mapped table as [`LegacyMapping::check`] walks them.
struct MappedTable<'a> {
    table: &'a str,
    columns: Vec<&'a str>,
    updated_at: &'a str,
    mode: &'a ChangeDetection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_blank_names_are_refused() {
        assert!(LegacyMapping::from_toml_str("[clients]\ncodee = \"x\"").is_err());
        assert!(LegacyMapping::from_toml_str("[clients]\ntable = \"\"").is_err());
        assert!(LegacyMapping::from_toml_str("not toml [").is_err());
        assert_eq!(
            LegacyMapping::from_toml_str("").unwrap(),
            LegacyMapping::default()
        );
        assert!(LegacyMapping::from_toml_str("[deletes]\nclients = \"purge\"").is_err());
        let stamped =
            LegacyMapping::from_toml_str("[shipments]\ncreated_by = \"booked_by\"").unwrap();
        assert_eq!(stamped.shipments.created_by.as_deref(), Some("booked_by"));
        assert!(
            stamped.shipments.columns().contains(&"booked_by"),
            "checked at start"
        );
        assert_eq!(stamped.clearance.updated_by, None);
        assert!(LegacyMapping::from_toml_str("[shipments]\ncreated_by = \" \"").is_err());
        assert!(LegacyMapping::from_toml_str("[deletes]\nclient = \"remove\"").is_err());
        assert!(
            LegacyMapping::from_toml_str("[change_detection]\nclient = \"hash\"").is_err(),
            "unknown table"
        );
        assert!(
            LegacyMapping::from_toml_str("[change_detection]\nclients = \"rowversion: \"").is_err()
        );
        let err = LegacyMapping::from_toml_str("[change_detection]\nshipments = \"md5\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("shipments") && err.contains("\"hash\""),
            "{err}"
        );
    }
}
