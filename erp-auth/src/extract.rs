//! The axum extractor for the authenticated principal (feature `axum`).

use axum::{
    extract::FromRequestParts,
    response::{IntoResponse, Response},
};
use erp_core::Principal;
use http::request::Parts;

use crate::{AuthError, layer::problem_response};

/// The [`Principal`] the [`AuthLayer`](crate::AuthLayer) authenticated.
///
/// ```
/// use erp_auth::Authenticated;
///
/// async fn me(Authenticated(principal): Authenticated) -> String {
///     format!("{} ({})", principal.username, principal.tenant_id)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

/// Rejection when no principal is present: the route is not behind an `AuthLayer`.
#[derive(Debug)]
pub struct MissingPrincipal;

impl IntoResponse for MissingPrincipal {
    fn into_response(self) -> Response {
        problem_response(&AuthError::MissingCredential).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = MissingPrincipal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Authenticated)
            .ok_or(MissingPrincipal)
    }
}
