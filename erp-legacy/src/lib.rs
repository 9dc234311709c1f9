//! `erp-legacy`: the legacy half of the ERP toolkit.
//!
//! An existing Microsoft SQL Server database (clients, clearance records, shipments)
//! read and written next to PostgreSQL, with queries written once:
//!
//! - [`LegacyMapping`]: which tables and columns hold each field (default: the sample
//!   schema in `sql/`; TOML overrides for an existing schema), checked against the
//!   catalogue at start-up;
//! - [`LegacyRepository`] / [`SqlLegacyRepository`]: search and read clients, clearance
//!   records and shipments, update a clearance status, book a shipment — over any
//!   [`erp_core::sql::Executor`];
//! - [`sync`]: incremental, batched, idempotent copy of the legacy data into the ERP
//!   database with a checkpoint per table;
//! - [`tsql`]: the T-SQL backend for sea-query (SQL Server 2016+ and Babelfish);
//! - [`mssql`]: the SQL Server executor (tiberius, pooled, TLS, timeouts).

mod change_detection;
mod changes;
mod error;
mod mapping;
mod model;
pub mod mssql;
mod repo;
pub mod sync;
pub mod tsql;
mod writes;

pub use change_detection::{ChangeDetection, ChangeDetections};
pub use changes::Versioned;
pub use error::{LegacyError, Result};
pub use mapping::{
    ClearanceTable, ClientTable, DeletePolicies, LegacyMapping, OnDelete, ShipmentTable,
};
pub use model::{ClearanceRecord, ClearanceStatus, Client, NewShipment, Page, Paged, Shipment};
pub use repo::{LegacyRepository, SqlLegacyRepository};
pub use writes::{ClearanceChange, MAX_STAMP_LEN, RowVersion};
