//! Every error as `application/problem+json` (RFC 9457) with a stable `code`.
//!
//! Errors of the crates below keep their kind up to here, and `Kind` turns a kind
//! into a status in this one place: conflict 409, not found 404, invalid input 400,
//! unavailable 503, and 500 only for what is a bug or a broken database. Details are
//! fixed text chosen here: a storage error's own message (which can quote a value of
//! the request) goes to the log, never into a response.

use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use erp_auth::{
    AuthError,
    layer::{problem, problem_response},
};
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
    /// The request collides with work in progress or an existing record (409).
    Conflict(&'static str),
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

/// What the caller can do about an error, which decides the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Fix the request.
    InvalidInput,
    /// Nothing to act on.
    NotFound,
    /// Pick another value or reload.
    Conflict,
    /// Read the record again and retry with its new version.
    PreconditionFailed,
    /// Retry later.
    Unavailable,
    /// Nothing: a bug or a broken database.
    Internal,
}

impl Kind {
    fn status(self) -> StatusCode {
        match self {
            Kind::InvalidInput => StatusCode::BAD_REQUEST,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The contract's code; `unavailable` names which upstream is down.
    fn code(self, unavailable: &'static str) -> &'static str {
        match self {
            Kind::InvalidInput => "VALIDATION_FAILED",
            Kind::NotFound => "NOT_FOUND",
            Kind::Conflict => "CONFLICT",
            Kind::PreconditionFailed => "PRECONDITION_FAILED",
            Kind::Unavailable => unavailable,
            Kind::Internal => "INTERNAL",
        }
    }

    fn respond(self, unavailable: &'static str, detail: &str) -> Response {
        problem(self.status(), self.code(unavailable), detail).into_response()
    }
}

/// The kind and a fixed detail of an ERP-store error.
fn store_kind(e: &erp_core::Error) -> (Kind, &'static str) {
    use erp_core::Error as E;
    match e {
        E::NotFound { entity } => (Kind::NotFound, entity),
        E::Conflict { .. } => (
            Kind::Conflict,
            "the change conflicts with an existing record",
        ),
        E::InvalidInput { .. } => (Kind::InvalidInput, "invalid input"),
        E::Unavailable { .. } => (Kind::Unavailable, "the database is unavailable"),
        _ => (Kind::Internal, "internal error"),
    }
}

/// The kind and a fixed detail of a legacy-database error.
fn legacy_kind(e: &LegacyError) -> (Kind, Cow<'static, str>) {
    let (kind, detail) = match e {
        LegacyError::NotFound(what) => (Kind::NotFound, *what),
        LegacyError::Conflict { what, .. } => {
            return (
                Kind::Conflict,
                format!("the {what} is already in use").into(),
            );
        }
        LegacyError::PreconditionFailed(what) => {
            return (
                Kind::PreconditionFailed,
                format!("{what} changed since the version in If-Match: read it again").into(),
            );
        }
        // The field name is ours; the message may hold the value.
        LegacyError::InvalidInput { field, .. } => {
            return (Kind::InvalidInput, format!("invalid {field}").into());
        }
        LegacyError::Unavailable(_) | LegacyError::Cancelled => {
            (Kind::Unavailable, "the legacy database is unavailable")
        }
        // Found by the start-up check (LEGACY_SCHEMA_CHECK=warn, or a database that
        // answered only after start): the names are on /health and in the log, not for
        // every caller.
        LegacyError::SchemaMismatch { .. } => (
            Kind::Unavailable,
            "the legacy database does not match the configured mapping",
        ),
        _ => (Kind::Internal, "internal error"),
    };
    (kind, detail.into())
}

fn log(kind: Kind, error: &dyn std::error::Error, what: &str) {
    match kind {
        Kind::Internal => tracing::error!(error = %error, "{what} error"),
        Kind::Unavailable => tracing::warn!(error = %error, "{what} unavailable"),
        _ => tracing::debug!(error = %error, "{what} refused the request"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(e) => {
                match e.status() {
                    StatusCode::INTERNAL_SERVER_ERROR => log(Kind::Internal, &e, "auth"),
                    StatusCode::SERVICE_UNAVAILABLE => log(Kind::Unavailable, &e, "auth"),
                    _ => {}
                }
                problem_response(&e).into_response()
            }
            Self::Legacy(e) => {
                let (kind, detail) = legacy_kind(&e);
                log(kind, &e, "legacy database");
                kind.respond("LEGACY_DB_UNAVAILABLE", &detail)
            }
            Self::Store(e) => {
                let (kind, detail) = store_kind(&e);
                log(kind, &e, "store");
                kind.respond("UPSTREAM_UNAVAILABLE", detail)
            }
            Self::Validation(what) => Kind::InvalidInput.respond("", what),
            Self::NotFound(what) => Kind::NotFound.respond("", what),
            Self::Conflict(what) => Kind::Conflict.respond("", what),
            Self::Forbidden => problem_response(&AuthError::Forbidden).into_response(),
            Self::Unprocessable(what) => {
                problem(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED", what).into_response()
            }
            Self::PreconditionRequired => problem(
                StatusCode::PRECONDITION_REQUIRED,
                "PRECONDITION_REQUIRED",
                "send If-Match with the ETag of the record as read (or * to overwrite)",
            )
            .into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, routing::get};
    use erp_core::Backend;
    use http::Request;
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    /// A value a caller sent, as a driver message would quote it.
    const QUOTED: &str = "invalid input syntax for type integer: \"<b>x</b>\"";

    fn core_conflict() -> erp_core::Error {
        erp_core::Error::Conflict {
            entity: "row",
            detail: QUOTED.into(),
            source: None,
        }
    }

    /// A route, the error its handler fails with, and the status and code expected.
    type Case = (&'static str, fn() -> ApiError, StatusCode, &'static str);

    /// One route per error, answered through a router as a handler's error would be.
    fn errors() -> Vec<Case> {
        vec![
            (
                "/store/conflict",
                || ApiError::Store(core_conflict()),
                StatusCode::CONFLICT,
                "CONFLICT",
            ),
            (
                "/store/not-found",
                || ApiError::Store(erp_core::Error::NotFound { entity: "user" }),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                "/store/invalid",
                || ApiError::Store(erp_core::Error::invalid("id", QUOTED)),
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
            ),
            (
                "/store/unavailable",
                || ApiError::Store(erp_core::Error::unavailable(Backend::Postgres, QUOTED)),
                StatusCode::SERVICE_UNAVAILABLE,
                "UPSTREAM_UNAVAILABLE",
            ),
            (
                "/store/decode",
                || {
                    ApiError::Store(erp_core::Error::Decode {
                        column: "roles".into(),
                        message: QUOTED.into(),
                    })
                },
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
            ),
            (
                "/legacy/conflict",
                || {
                    ApiError::Legacy(LegacyError::Conflict {
                        what: "shipment B/L number",
                        source: core_conflict(),
                    })
                },
                StatusCode::CONFLICT,
                "CONFLICT",
            ),
            (
                "/legacy/core-conflict",
                || ApiError::Legacy(core_conflict().into()),
                StatusCode::CONFLICT,
                "CONFLICT",
            ),
            (
                "/legacy/not-found",
                || ApiError::Legacy(erp_core::Error::NotFound { entity: "client" }.into()),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                "/legacy/invalid",
                || ApiError::Legacy(erp_core::Error::invalid("qty", QUOTED).into()),
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
            ),
            (
                "/legacy/unavailable",
                || ApiError::Legacy(erp_core::Error::unavailable(Backend::Mssql, QUOTED).into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "LEGACY_DB_UNAVAILABLE",
            ),
            (
                "/legacy/decode",
                || {
                    ApiError::Legacy(
                        erp_core::Error::Decode {
                            column: "status".into(),
                            message: QUOTED.into(),
                        }
                        .into(),
                    )
                },
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
            ),
            (
                "/legacy/checkpoint",
                || ApiError::Legacy(LegacyError::CorruptCheckpoint(QUOTED.into())),
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
            ),
            (
                "/auth/conflict",
                || ApiError::Auth(core_conflict().into()),
                StatusCode::CONFLICT,
                "CONFLICT",
            ),
            (
                "/auth/not-found",
                || ApiError::Auth(erp_core::Error::NotFound { entity: "session" }.into()),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                "/auth/unavailable",
                || ApiError::Auth(erp_core::Error::unavailable(Backend::Postgres, QUOTED).into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "UPSTREAM_UNAVAILABLE",
            ),
            (
                "/auth/bug",
                || ApiError::Auth(erp_core::Error::config("X", QUOTED).into()),
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
            ),
            (
                "/legacy/stale",
                || ApiError::Legacy(LegacyError::PreconditionFailed("the clearance record")),
                StatusCode::PRECONDITION_FAILED,
                "PRECONDITION_FAILED",
            ),
            (
                "/busy",
                || ApiError::Conflict("a legacy sync is running already"),
                StatusCode::CONFLICT,
                "CONFLICT",
            ),
            (
                "/validation",
                || ApiError::Validation("not a user id"),
                StatusCode::BAD_REQUEST,
                "VALIDATION_FAILED",
            ),
            (
                "/forbidden",
                || ApiError::Forbidden,
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
            ),
        ]
    }

    #[tokio::test]
    async fn every_kind_has_its_status_and_no_quoted_text() {
        let cases = errors();
        let mut app = Router::new();
        for (path, make, _, _) in &cases {
            let make = *make;
            app = app.route(path, get(move || async move { Err::<(), _>(make()) }));
        }
        for (path, _, status, code) in cases {
            let response = app
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(
                response.headers()[http::header::CONTENT_TYPE],
                "application/problem+json",
                "{path}"
            );
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let text = std::str::from_utf8(&bytes).unwrap();
            assert!(!text.contains("<b>"), "{path}: {text}");
            let body: Value = serde_json::from_str(text).unwrap();
            assert_eq!(body["code"], code, "{path}");
            assert_eq!(body["status"], status.as_u16(), "{path}");
            assert!(
                body["detail"].as_str().is_some_and(|d| !d.is_empty()),
                "{path}"
            );
        }
    }
}
