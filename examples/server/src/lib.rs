//! `erp-server`: the reference server assembling the ERP toolkit.
//!
//! Routes (see docs/architecture.md for the contract):
//! `GET /health`, `GET /auth/config`, `POST /auth/login`, `POST /auth/refresh`,
//! `GET /auth/me`, `POST /auth/logout`, `GET /auth/sessions`,
//! `DELETE /auth/sessions/{jti}`, `POST /admin/users/{id}/sessions/revoke`,
//! `POST /admin/tenants/{id}/sessions/revoke`, `GET /api/v1/mssql/clients`,
//! `GET /api/v1/mssql/clients/{code}`, `GET /api/v1/mssql/clearance/{id}`,
//! `GET /api/v1/mssql/shipments?client=`, `PATCH /api/v1/mssql/clearance/{id}`,
//! `POST /api/v1/mssql/shipments`, `POST /api/v1/mssql/sync`, `GET /metrics`.

pub mod assemble;
pub mod assets;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod error;
pub mod health;
pub mod healthcheck;
pub mod legacy_db;
pub mod legacy_sync;
pub mod logging;
pub mod observe;
#[cfg(feature = "otel")]
pub mod otel;
pub mod revocation_feeds;
pub mod routes;
pub mod seed;
pub mod state;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::IntoResponse,
};
use erp_auth::require_role;
pub use state::AppState;

use routes::{auth, legacy};

/// Prometheus text exposition of every metric the toolkit records.
async fn metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        observe::exposition::render(&app.metrics),
    )
}

/// The routes served, for the OpenAPI completeness test: `(method, path)`.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/health"),
    ("get", "/auth/config"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("get", "/auth/me"),
    ("post", "/auth/logout"),
    ("get", "/auth/sessions"),
    ("delete", "/auth/sessions/{jti}"),
    ("post", "/admin/users/{id}/sessions/revoke"),
    ("post", "/admin/tenants/{id}/sessions/revoke"),
    ("get", "/api/v1/mssql/clients"),
    ("get", "/api/v1/mssql/clients/{code}"),
    ("get", "/api/v1/mssql/clearance/{id}"),
    ("get", "/api/v1/mssql/shipments"),
    ("patch", "/api/v1/mssql/clearance/{id}"),
    ("post", "/api/v1/mssql/shipments"),
    ("post", "/api/v1/mssql/sync"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

async fn openapi() -> axum::Json<serde_json::Value> {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    axum::Json(DOC.get_or_init(routes::openapi::document).clone())
}

/// The application router.
pub fn router(state: AppState) -> Router {
    use routes::table::{Access::*, RouteTable};
    let state = Arc::new(state);
    let admin = Roles(require_role("admin"));
    // The people in charge of clearance and shipments write the legacy records; so may
    // an administrator (or a service given one of these roles through AZURE_ROLE_MAP).
    let legacy_writers = Roles(erp_auth::require_any_role(["admin", "pic"]));
    let auth_config = auth::ConfigBody::new(&state.config);
    let table = RouteTable::new(&state)
        .get("/health", Public, health::health)
        .get("/auth/config", Public, move || {
            std::future::ready(auth_config.clone())
        })
        .post("/auth/login", Public, auth::login)
        .post("/auth/refresh", Public, auth::refresh)
        .get("/metrics", Public, metrics)
        .get("/openapi.json", Public, openapi)
        .get("/auth/me", Authenticated, auth::me)
        .post("/auth/logout", Authenticated, auth::logout)
        .get("/auth/sessions", Authenticated, auth::sessions)
        .delete("/auth/sessions/{jti}", Authenticated, auth::delete_session)
        .get("/api/v1/mssql/clients", Authenticated, legacy::clients)
        .get(
            "/api/v1/mssql/clients/{code}",
            Authenticated,
            legacy::client,
        )
        .get(
            "/api/v1/mssql/clearance/{id}",
            Authenticated,
            legacy::clearance,
        )
        .get("/api/v1/mssql/shipments", Authenticated, legacy::shipments)
        .post(
            "/admin/users/{id}/sessions/revoke",
            admin.clone(),
            auth::revoke_user,
        )
        .post(
            "/admin/tenants/{id}/sessions/revoke",
            admin.clone(),
            auth::revoke_tenant,
        )
        .post("/api/v1/mssql/sync", admin, legacy::sync)
        .patch(
            "/api/v1/mssql/clearance/{id}",
            legacy_writers.clone(),
            legacy::patch_clearance,
        )
        .post(
            "/api/v1/mssql/shipments",
            legacy_writers,
            legacy::book_shipment,
        );
    let router = assets::routes(table).into_router();
    with_cors(router, &state.config.allowed_origins)
}

/// CORS for the configured origins (none: no CORS headers at all, and no layer).
fn with_cors(mut router: Router, origins: &[String]) -> Router {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if !allowed.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(allowed))
                .allow_methods([http::Method::GET, http::Method::POST, http::Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    http::HeaderName::from_static("x-csrf-token"),
                ])
                .allow_credentials(true),
        );
    }
    router
}
