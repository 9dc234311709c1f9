//! What the ERP copy of each legacy table looks like.
//!
//! A copy's columns are listed once, each with the value it takes from a record, so the
//! column list and the values of a row cannot drift apart.

use chrono::{DateTime, Utc};
use sea_query::Value;

use crate::{ClearanceRecord, Client, Shipment};

/// The column every copy has besides its record's: when the row was copied.
pub(super) const SYNCED_AT: &str = "synced_at";

/// When the reconciliation pass found the legacy row gone; written `NULL` with every
/// copy of a row, so a row deleted and then re-created in the legacy database is live
/// again in the ERP copy.
pub(super) const DELETED_AT: &str = "deleted_at";

/// A legacy record as the sync reads it: where it stands in `(updated_at, key)` order.
pub(super) trait Record: Send + Sync {
    /// The watermark.
    fn updated_at(&self) -> DateTime<Utc>;
    /// The legacy key.
    fn key(&self) -> Key<'_>;
}

/// A legacy key, borrowed from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Key<'a> {
    Text(&'a str),
    Int(i64),
}

impl Key<'_> {
    /// How the checkpoint stores it.
    pub(super) fn to_text(self) -> String {
        match self {
            Key::Text(k) => k.to_owned(),
            Key::Int(k) => k.to_string(),
        }
    }
}

/// The ERP copy of a legacy table: its name, its key column, and its `N` columns
/// besides [`SYNCED_AT`] and [`DELETED_AT`] with the values a record gives them, both made by
/// `table_spec!` from one list.
pub(super) struct TableSpec<R: 'static, const N: usize> {
    pub(super) table: &'static str,
    pub(super) key: &'static str,
    columns: [&'static str; N],
    /// Moves the record's fields into its values: a batch is tens of thousands of
    /// records nobody reads again, and an array costs no allocation.
    values: fn(R) -> [Value; N],
}

impl<R, const N: usize> TableSpec<R, N> {
    /// Every column of the copy, in the order [`TableSpec::row`] gives the values.
    pub(super) fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().copied().chain([SYNCED_AT, DELETED_AT])
    }

    /// The values of `record`'s row in the copy.
    pub(super) fn row(&self, record: R, synced_at: DateTime<Utc>) -> impl Iterator<Item = Value> {
        (self.values)(record)
            .into_iter()
            .chain([synced_at.into(), Value::ChronoDateTimeUtc(None)])
    }
}

/// A [`TableSpec`] from one list of `column: value` pairs, `value` an expression of
/// the record `$r` that moves what it needs out of it.
macro_rules! table_spec {
    ($record:ty, |$r:ident| $table:literal keyed by $key:literal {
        $($column:literal: $value:expr),+ $(,)?
    }) => {
        TableSpec {
            table: $table,
            key: $key,
            columns: [$($column),+],
            values: |$r: $record| [$(Value::from($value)),+],
        }
    };
}

pub(super) const CLIENTS: TableSpec<Client, 10> = table_spec!(Client, |c| "legacy_clients" keyed by "client_code" {
    "client_code": c.code,
    "client_name": c.name,
    "business_reg_no": c.business_reg_no,
    "contact_name": c.contact_name,
    "contact_phone": c.contact_phone,
    "contact_email": c.contact_email,
    "address": c.address,
    "currency": c.currency,
    "is_active": c.is_active,
    "updated_at": c.updated_at,
});

pub(super) const CLEARANCE: TableSpec<ClearanceRecord, 11> = table_spec!(ClearanceRecord, |c| "legacy_clearance_records" keyed by "clearance_id" {
    "clearance_id": c.id,
    "clearance_no": c.clearance_no,
    "client_code": c.client_code,
    "declaration_date": c.declaration_date,
    "hs_code": c.hs_code,
    "customs_value": c.customs_value,
    "currency": c.currency,
    "duty_amount": c.duty,
    "status": c.status.as_str(),
    "notes": c.notes,
    "updated_at": c.updated_at,
});

pub(super) const SHIPMENTS: TableSpec<Shipment, 10> = table_spec!(Shipment, |s| "legacy_shipments" keyed by "shipment_id" {
    "shipment_id": s.id,
    "bl_no": s.bl_no,
    "client_code": s.client_code,
    "container_no": s.container_no,
    "origin_port": s.origin,
    "destination_port": s.destination,
    "etd": s.etd,
    "eta": s.eta,
    "status": s.status,
    "updated_at": s.updated_at,
});

impl Record for Client {
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn key(&self) -> Key<'_> {
        Key::Text(&self.code)
    }
}

impl Record for ClearanceRecord {
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn key(&self) -> Key<'_> {
        Key::Int(self.id)
    }
}

impl Record for Shipment {
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn key(&self) -> Key<'_> {
        Key::Int(self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<R, const N: usize>(spec: &TableSpec<R, N>, migration: &str, deletes: &str) {
        assert_eq!(
            spec.columns.len() + 2,
            spec.column_names().count(),
            "{}: synced_at and deleted_at added",
            spec.table
        );
        let names: Vec<_> = spec.column_names().collect();
        assert!(
            names.contains(&spec.key),
            "{}: key among the columns",
            spec.table
        );
        let start = migration
            .find(&format!("CREATE TABLE {} (", spec.table))
            .unwrap_or_else(|| panic!("{} in the migration", spec.table));
        let body = &migration[start..];
        let body = &body[..body.find(");").unwrap()];
        let mut declared: Vec<&str> = body
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let added = format!("ALTER TABLE {} ADD COLUMN deleted_at ", spec.table);
        if deletes.contains(&added) {
            declared.push("deleted_at");
        }
        assert_eq!(
            names, declared,
            "{}: the copy's columns, in order",
            spec.table
        );
    }

    #[test]
    fn specs_match_the_migrations_of_both_targets() {
        for (migration, deletes) in [
            (
                include_str!("../../migrations/postgres/V1__legacy_sync.sql"),
                include_str!("../../migrations/postgres/V2__legacy_sync_deletes.sql"),
            ),
            (
                include_str!("../../migrations/sqlite/V1__legacy_sync.sql"),
                include_str!("../../migrations/sqlite/V2__legacy_sync_deletes.sql"),
            ),
        ] {
            check(&CLIENTS, migration, deletes);
            check(&CLEARANCE, migration, deletes);
            check(&SHIPMENTS, migration, deletes);
        }
    }

    #[test]
    fn a_row_has_a_value_per_column() {
        let client = Client {
            code: "C1".into(),
            name: "n".into(),
            business_reg_no: None,
            contact_name: None,
            contact_phone: None,
            contact_email: None,
            address: None,
            currency: "HKD".into(),
            is_active: true,
            updated_at: Utc::now(),
        };
        assert_eq!(client.key().to_text(), "C1");
        let row: Vec<Value> = CLIENTS.row(client, Utc::now()).collect();
        assert_eq!(row.len(), CLIENTS.column_names().count());
        assert_eq!(row[0], Value::from("C1"));
        assert_eq!(Key::Int(42).to_text(), "42");
    }
}
