//! `erp-server`: the reference server assembling the ERP toolkit.
//!
//! Routes (see docs/architecture.md for the contract):
//! `GET /health`, `GET /auth/config`, `POST /auth/login`, `POST /auth/refresh`,
//! `GET /auth/me`, `POST /auth/logout`, `GET /auth/sessions`,
//! `DELETE /auth/sessions/{jti}`, `POST /admin/users/{id}/sessions/revoke`,
//! `POST /admin/tenants/{id}/sessions/revoke`, `GET /api/v1/mssql/clients`,
//! `GET /api/v1/mssql/clients/{code}`, `GET /api/v1/mssql/clearance/{id}`,
//! `GET /api/v1/mssql/shipments?client=`, `POST /api/v1/mssql/sync`, `GET /metrics`.

pub mod config;
pub mod error;
pub mod health;
pub mod routes;
pub mod seed;
pub mod state;

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::IntoResponse,
    routing::{delete, get, post},
};
use erp_auth::{AuthLayer, require_role};
pub use state::AppState;

use routes::{auth, legacy};

/// Prometheus text exposition of every metric the toolkit records.
async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        app.metrics.render(),
    )
}

/// The application router.
pub fn router(state: AppState) -> Router {
    let state = Arc::new(state);
    let admin = Router::new()
        .route("/admin/users/{id}/sessions/revoke", post(auth::revoke_user))
        .route(
            "/admin/tenants/{id}/sessions/revoke",
            post(auth::revoke_tenant),
        )
        .route("/api/v1/mssql/sync", post(legacy::sync))
        .route_layer(require_role("admin"));
    let protected = Router::new()
        .route("/auth/me", get(auth::me))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/{jti}", delete(auth::delete_session))
        .route("/api/v1/mssql/clients", get(legacy::clients))
        .route("/api/v1/mssql/clients/{code}", get(legacy::client))
        .route("/api/v1/mssql/clearance/{id}", get(legacy::clearance))
        .route("/api/v1/mssql/shipments", get(legacy::shipments))
        .merge(admin)
        .route_layer(AuthLayer::new(state.authenticator.clone()));
    Router::new()
        .route("/health", get(health::health))
        .route("/auth/config", get(auth::config))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/metrics", get(metrics))
        .merge(protected)
        .with_state(state)
}
