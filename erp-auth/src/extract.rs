//! The axum extractor for the authenticated principal (feature `axum`).

use axum::{
    extract::FromRequestParts,
    response::{IntoResponse, Response},
};
use erp_core::Principal;
use http::request::Parts;

use crate::{
    AuthError, TokenClaims,
    layer::{RequireScopeLayer, problem_response, require_any_scope, require_app_role},
};

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

/// The principal with its verified token claims: the axum guard form of
/// [`require_scope`](crate::require_scope), [`require_any_scope`](crate::require_any_scope)
/// and [`require_app_role`](crate::require_app_role), for handlers that decide per
/// request.
///
/// ```
/// use erp_auth::{AuthenticatedToken, layer::ScopeRejection};
///
/// async fn books(token: AuthenticatedToken) -> Result<&'static str, ScopeRejection> {
///     token.require_any_scope(["Books.Read", "Books.ReadWrite"])?;
///     Ok("books")
/// }
/// ```
#[derive(Debug, Clone)]
pub struct AuthenticatedToken {
    /// The principal.
    pub principal: Principal,
    /// The verified claims (absent for cookie sessions).
    pub claims: Option<TokenClaims>,
}

impl AuthenticatedToken {
    fn check(&self, rule: &RequireScopeLayer) -> Result<(), crate::layer::ScopeRejection> {
        rule.check(Some(&self.principal), self.claims.as_ref())
            .map_err(crate::layer::ScopeRejection)
    }

    /// 403 `insufficient_scope` unless `scp` holds `scope`.
    ///
    /// # Panics
    /// If `scope` is not a scope-token (see [`require_scope`](crate::require_scope)).
    pub fn require_scope(&self, scope: &str) -> Result<(), crate::layer::ScopeRejection> {
        self.check(&require_any_scope([scope]))
    }

    /// 403 `insufficient_scope` unless `scp` holds one of `scopes`.
    ///
    /// # Panics
    /// If `scopes` is empty or holds a value that is not a scope-token.
    pub fn require_any_scope<'a>(
        &self,
        scopes: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), crate::layer::ScopeRejection> {
        self.check(&require_any_scope(scopes))
    }

    /// 403 `insufficient_scope` unless `roles` holds the app role `role`.
    ///
    /// # Panics
    /// If `role` is not a scope-token.
    pub fn require_app_role(&self, role: &str) -> Result<(), crate::layer::ScopeRejection> {
        self.check(&require_app_role(role))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedToken {
    type Rejection = MissingPrincipal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(MissingPrincipal)?;
        Ok(Self {
            principal,
            claims: parts.extensions.get::<TokenClaims>().cloned(),
        })
    }
}
