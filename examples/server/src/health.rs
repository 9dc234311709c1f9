//! `GET /health`: status and latency of each dependency.

use std::{sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode};
use erp_core::sql::Executor;
use serde::Serialize;

use crate::AppState;

/// Longest a health probe waits for one dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Overall or per-check status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything answers.
    Ok,
    /// An optional dependency is down; the server still serves.
    Degraded,
    /// A required dependency is down.
    Down,
}

/// One dependency's result.
#[derive(Debug, Serialize)]
pub struct Check {
    /// ok or down.
    pub status: Status,
    /// postgres or sqlite.
    pub backend: &'static str,
    /// Round-trip time of the probe, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Why it is down (no secrets: errors carry masked URLs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Worst status of the checks.
    pub status: Status,
    /// Per-dependency results.
    pub checks: Checks,
}

/// The checked dependencies.
#[derive(Debug, Serialize)]
pub struct Checks {
    /// The ERP database.
    pub database: Check,
}

/// Probes the database; 200 when ok, 503 when down.
pub async fn health(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Report>) {
    let backend = state.db.backend().as_str();
    let database = match tokio::time::timeout(PROBE_TIMEOUT, state.db.ping()).await {
        Ok(Ok(latency)) => Check {
            status: Status::Ok,
            backend,
            latency_ms: Some((latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
            error: None,
        },
        Ok(Err(e)) => Check {
            status: Status::Down,
            backend,
            latency_ms: None,
            error: Some(e.to_string()),
        },
        Err(_) => Check {
            status: Status::Down,
            backend,
            latency_ms: None,
            error: Some(format!("no answer within {PROBE_TIMEOUT:?}")),
        },
    };
    let status = database.status;
    let code = if status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        code,
        Json(Report {
            status,
            checks: Checks { database },
        }),
    )
}
