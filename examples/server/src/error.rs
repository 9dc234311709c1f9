//! Every error as `application/problem+json` (RFC 9457) with a stable `code`.

use axum::{
    Json,
    response::{IntoResponse, Response},
};
use erp_auth::{AuthError, layer::problem_response};
use erp_legacy::LegacyError;
use http::StatusCode;

/// What a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// Authentication, login, sessions.
    Auth(AuthError),
    /// The legacy database.
    Legacy(LegacyError),
    /// A store of the ERP database.
    Store(erp_core::Error),
    /// A request that breaks a rule (400).
    Validation(&'static str),
    /// Not found (404).
    NotFound(&'static str),
    /// The principal may not do this (403).
    Forbidden,
    /// A well-formed body whose values break a rule or do not fit the schema (422).
    Unprocessable(&'static str),
    /// A write that must name the version it changes sent no `If-Match` (428).
    PreconditionRequired,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<LegacyError> for ApiError {
    fn from(e: LegacyError) -> Self {
        Self::Legacy(e)
    }
}

impl From<erp_core::Error> for ApiError {
    fn from(e: erp_core::Error) -> Self {
        Self::Store(e)
    }
}

fn problem(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:erp:problem:{}", code.to_ascii_lowercase().replace('_', "-")),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(e) => problem_response(&e).into_response(),
            Self::Legacy(e) => match e {
                LegacyError::Unavailable(inner) => {
                    tracing::warn!(error = %inner, "legacy database unavailable");
                    problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "LEGACY_DB_UNAVAILABLE",
                        "the legacy database is unavailable",
                    )
                }
                // Found by the start-up check (LEGACY_SCHEMA_CHECK=warn, or a database
                // that answered only after start): the names are on /health and in the
                // log, not for every caller.
                LegacyError::SchemaMismatch { .. } => problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "LEGACY_DB_UNAVAILABLE",
                    "the legacy database does not match the configured mapping",
                ),
                LegacyError::NotFound(what) => problem(StatusCode::NOT_FOUND, "NOT_FOUND", what),
                LegacyError::Conflict(what) => problem(StatusCode::CONFLICT, "CONFLICT", what),
                LegacyError::PreconditionFailed(what) => problem(
                    StatusCode::PRECONDITION_FAILED,
                    "PRECONDITION_FAILED",
                    &format!("{what} changed since the version in If-Match: read it again"),
                ),
                LegacyError::InvalidInput { field, .. } => problem(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_FAILED",
                    &format!("invalid {field}"),
                ),
                other => {
                    tracing::error!(error = %other, "legacy database error");
                    problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "INTERNAL",
                        "internal error",
                    )
                }
            },
            Self::Store(e) => match e {
                erp_core::Error::Unavailable { .. } => {
                    tracing::warn!(error = %e, "store unavailable");
                    problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "UPSTREAM_UNAVAILABLE",
                        "the database is unavailable",
                    )
                }
                erp_core::Error::NotFound { entity } => {
                    problem(StatusCode::NOT_FOUND, "NOT_FOUND", entity)
                }
                erp_core::Error::InvalidInput { .. } => problem(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_FAILED",
                    "invalid input",
                ),
                other => {
                    tracing::error!(error = %other, "store error");
                    problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "INTERNAL",
                        "internal error",
                    )
                }
            },
            Self::Validation(what) => problem(StatusCode::BAD_REQUEST, "VALIDATION_FAILED", what),
            Self::NotFound(what) => problem(StatusCode::NOT_FOUND, "NOT_FOUND", what),
            Self::Forbidden => problem_response(&AuthError::Forbidden).into_response(),
            Self::Unprocessable(what) => {
                problem(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED", what)
            }
            Self::PreconditionRequired => problem(
                StatusCode::PRECONDITION_REQUIRED,
                "PRECONDITION_REQUIRED",
                "send If-Match with the ETag of the record as read (or * to overwrite)",
            ),
        }
    }
}
