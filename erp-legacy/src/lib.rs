//! `erp-legacy`: access to the legacy Microsoft SQL Server database of the ERP toolkit.
//!
//! **Status: not built yet.** This crate will hold the T-SQL backend for sea-query, the
//! MSSQL executor (implementing [`erp_core::sql::Executor`]), the legacy repository
//! and the legacy -> PostgreSQL sync. Until then it exports nothing.
