//! What the ERP copy of each legacy table looks like.
//!
//! A copy's columns are listed once, each with the value it takes from a record, so the
//! column list and the values of a row cannot drift apart.

use chrono::{DateTime, Utc};
use sea_query::Value;

use crate::{ClearanceRecord, Client, Shipment, changes::Versioned};

/// The column every copy has besides its record's: when the row was copied.
pub(super) const SYNCED_AT: &str = "synced_at";

/// When the reconciliation pass found the legacy row gone; written `NULL` with every
/// copy of a row, so a row deleted and then re-created in the legacy database is live
/// again in the ERP copy.
pub(super) const DELETED_AT: &str = "deleted_at";

/// The hash of the copied values ([`super::row_hash`]), which a hash pass compares.
pub(super) const ROW_HASH: &str = "row_hash";

/// The copy's column of the record's `updated_at` (the time it was read, for a table
/// whose changes are found without one).
pub(super) const UPDATED_AT: &str = "updated_at";

/// Where a record stands in the order its table is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Position {
    /// `(updated_at, key)` order: the watermark.
    At(DateTime<Utc>),
    /// `rowversion` order.
    Version(i64),
}

/// A record as a change feed reads it: its position, its key, and the record to copy.
pub(super) trait Read: Send + Sync {
    /// What is copied.
    type Record;
    /// Where it stands in its feed's order.
    fn position(&self) -> Position;
    /// The legacy key.
    fn key(&self) -> Key<'_>;
    /// The record, for its row in the copy.
    fn into_record(self) -> Self::Record;
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

/// The ERP copy of a legacy table: its name, its key column, its `N` columns of record
/// values, both made by `table_spec!` from one list, then [`UPDATED_AT`],
/// [`SYNCED_AT`], [`DELETED_AT`] and [`ROW_HASH`].
pub(super) struct TableSpec<R: 'static, const N: usize> {
    pub(super) table: &'static str,
    pub(super) key: &'static str,
    columns: [&'static str; N],
    /// Moves the record's fields into its values: a batch is tens of thousands of
    /// records nobody reads again, and an array costs no allocation.
    values: fn(R) -> ([Value; N], DateTime<Utc>),
}

/// A record's values for the copy, with their hash.
#[derive(Debug)]
pub(super) struct Prepared<const N: usize> {
    values: [Value; N],
    updated_at: DateTime<Utc>,
    pub(super) hash: i64,
}

impl<const N: usize> Prepared<N> {
    /// The row, in [`TableSpec::column_names`] order.
    pub(super) fn into_row(self, synced_at: DateTime<Utc>) -> impl Iterator<Item = Value> {
        self.values.into_iter().chain([
            self.updated_at.into(),
            synced_at.into(),
            Value::ChronoDateTimeUtc(None),
            self.hash.into(),
        ])
    }
}

impl<R, const N: usize> TableSpec<R, N> {
    /// Every column of the copy, in the order [`Prepared::into_row`] gives the values.
    pub(super) fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns
            .iter()
            .copied()
            .chain([UPDATED_AT, SYNCED_AT, DELETED_AT, ROW_HASH])
    }

    /// `record`'s values and their hash. The hash leaves out `updated_at`: a row whose
    /// values did not change is the same row, whenever it was read.
    pub(super) fn prepare(&self, record: R) -> Prepared<N> {
        let (values, updated_at) = (self.values)(record);
        let hash = super::row_hash::row_hash(&values);
        Prepared {
            values,
            updated_at,
            hash,
        }
    }
}

/// A [`TableSpec`] from one list of `column: value` pairs and the record's
/// `updated_at`, `value` an expression of the record `$r` that moves what it needs out
/// of it.
macro_rules! table_spec {
    ($record:ty, |$r:ident| $table:literal keyed by $key:literal {
        $($column:literal: $value:expr),+ $(,)?
    } updated_at: $updated:expr) => {
        TableSpec {
            table: $table,
            key: $key,
            columns: [$($column),+],
            values: |$r: $record| ([$(Value::from($value)),+], $updated),
        }
    };
}

pub(super) const CLIENTS: TableSpec<Client, 9> = table_spec!(Client, |c| "legacy_clients" keyed by "client_code" {
    "client_code": c.code,
    "client_name": c.name,
    "business_reg_no": c.business_reg_no,
    "contact_name": c.contact_name,
    "contact_phone": c.contact_phone,
    "contact_email": c.contact_email,
    "address": c.address,
    "currency": c.currency,
    "is_active": c.is_active,
} updated_at: c.updated_at);

pub(super) const CLEARANCE: TableSpec<ClearanceRecord, 10> = table_spec!(ClearanceRecord, |c| "legacy_clearance_records" keyed by "clearance_id" {
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
} updated_at: c.updated_at);

pub(super) const SHIPMENTS: TableSpec<Shipment, 9> = table_spec!(Shipment, |s| "legacy_shipments" keyed by "shipment_id" {
    "shipment_id": s.id,
    "bl_no": s.bl_no,
    "client_code": s.client_code,
    "container_no": s.container_no,
    "origin_port": s.origin,
    "destination_port": s.destination,
    "etd": s.etd,
    "eta": s.eta,
    "status": s.status,
} updated_at: s.updated_at);

/// [`Read`] for a model read by its `updated_at` watermark.
macro_rules! read_by_watermark {
    ($($record:ty => |$r:ident| $key:expr),+ $(,)?) => {$(
        impl Read for $record {
            type Record = Self;
            fn position(&self) -> Position {
                Position::At(self.updated_at)
            }
            fn key(&self) -> Key<'_> {
                let $r = self;
                $key
            }
            fn into_record(self) -> Self {
                self
            }
        }
    )+};
}

read_by_watermark!(
    Client => |c| Key::Text(&c.code),
    ClearanceRecord => |c| Key::Int(c.id),
    Shipment => |s| Key::Int(s.id),
);

impl<R: Read<Record = R>> Read for Versioned<R> {
    type Record = R;
    fn position(&self) -> Position {
        Position::Version(self.version)
    }
    fn key(&self) -> Key<'_> {
        self.record.key()
    }
    fn into_record(self) -> R {
        self.record
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use rust_decimal::Decimal;

    use super::*;
    use crate::ClearanceStatus;

    /// The columns each migration declares for `table`, in order (`CREATE TABLE` then
    /// each `ALTER TABLE .. ADD COLUMN`).
    fn declared(migrations: &[&str], table: &str) -> Vec<String> {
        let mut declared = Vec::new();
        for migration in migrations {
            if let Some(start) = migration.find(&format!("CREATE TABLE {table} (")) {
                let body = &migration[start..];
                let body = &body[..body.find(");").unwrap()];
                declared.extend(
                    body.lines()
                        .skip(1)
                        .filter_map(|l| l.split_whitespace().next())
                        .map(str::to_owned),
                );
            }
            let added = format!("ALTER TABLE {table} ADD COLUMN ");
            for line in migration.lines() {
                if let Some(rest) = line.strip_prefix(&added) {
                    declared.push(rest.split_whitespace().next().unwrap().to_owned());
                }
            }
        }
        declared
    }

    fn check<R, const N: usize>(spec: &TableSpec<R, N>, migrations: &[&str]) {
        let names: Vec<_> = spec.column_names().collect();
        assert_eq!(names.len(), N + 4, "{}", spec.table);
        assert!(
            names.contains(&spec.key),
            "{}: key among the columns",
            spec.table
        );
        assert_eq!(
            names,
            declared(migrations, spec.table),
            "{}: the copy's columns, in order",
            spec.table
        );
    }

    #[test]
    fn specs_match_the_migrations_of_both_targets() {
        for migrations in [
            [
                include_str!("../../migrations/postgres/V1__legacy_sync.sql"),
                include_str!("../../migrations/postgres/V2__legacy_sync_deletes.sql"),
                include_str!("../../migrations/postgres/V3__legacy_sync_change_detection.sql"),
            ],
            [
                include_str!("../../migrations/sqlite/V1__legacy_sync.sql"),
                include_str!("../../migrations/sqlite/V2__legacy_sync_deletes.sql"),
                include_str!("../../migrations/sqlite/V3__legacy_sync_change_detection.sql"),
            ],
        ] {
            check(&CLIENTS, &migrations);
            check(&CLEARANCE, &migrations);
            check(&SHIPMENTS, &migrations);
        }
    }

    /// One row of `spec`: a value per column, the key's under the key column, the
    /// timestamps and the hash in their columns.
    fn row_lines_up<R: Read<Record = R>, const N: usize>(
        spec: &TableSpec<R, N>,
        record: R,
        key: Value,
    ) {
        let updated_at = match record.position() {
            Position::At(at) => at,
            Position::Version(_) => unreachable!(),
        };
        let synced_at = Utc::now();
        let prepared = spec.prepare(record);
        let hash = prepared.hash;
        let row: Vec<Value> = prepared.into_row(synced_at).collect();
        let names: Vec<_> = spec.column_names().collect();
        assert_eq!(row.len(), names.len(), "{}", spec.table);
        let at = |column: &str| &row[names.iter().position(|n| *n == column).unwrap()];
        assert_eq!(at(spec.key), &key, "{}", spec.table);
        assert_eq!(at(UPDATED_AT), &Value::from(updated_at), "{}", spec.table);
        assert_eq!(at(SYNCED_AT), &Value::from(synced_at), "{}", spec.table);
        assert_eq!(at(DELETED_AT), &Value::ChronoDateTimeUtc(None));
        assert_eq!(at(ROW_HASH), &Value::from(hash));
        assert_eq!(hash, super::super::row_hash::row_hash(&row[..N]));
    }

    #[test]
    fn every_spec_has_a_value_per_column_in_column_order() {
        let updated_at = Utc::now() - chrono::Duration::hours(1);
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
            updated_at,
        };
        assert_eq!(client.key().to_text(), "C1");
        row_lines_up(&CLIENTS, client, Value::from("C1"));
        let clearance = ClearanceRecord {
            id: 42,
            clearance_no: "CL-1".into(),
            client_code: "C1".into(),
            declaration_date: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            hs_code: "8471.30".into(),
            customs_value: Decimal::new(1234, 2),
            currency: "HKD".into(),
            duty: Decimal::ZERO,
            status: ClearanceStatus::Cleared,
            notes: Some("n".into()),
            updated_at,
        };
        row_lines_up(&CLEARANCE, clearance, Value::from(42_i64));
        let shipment = Shipment {
            id: 7,
            bl_no: "BL-1".into(),
            client_code: "C1".into(),
            container_no: None,
            origin: "Hong Kong".into(),
            destination: "Busan".into(),
            etd: None,
            eta: None,
            status: "BOOKED".into(),
            updated_at,
        };
        row_lines_up(&SHIPMENTS, shipment, Value::from(7_i64));
        assert_eq!(Key::Int(42).to_text(), "42");
    }
}
