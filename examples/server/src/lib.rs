//! `erp-server`: the reference server assembling the ERP toolkit.
//!
//! For now it opens the ERP database (PostgreSQL from `DATABASE_URL`, else an embedded
//! SQLite file), applies migrations and serves `GET /health`. The auth routes, the
//! legacy API and the CLI arrive with the later parts of the toolkit.

pub mod config;
pub mod health;

use std::sync::Arc;

use axum::{Router, routing::get};
use erp_core::sql::Database;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ERP database.
    pub db: Database,
}

/// The application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .with_state(Arc::new(state))
}
