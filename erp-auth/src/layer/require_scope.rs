//! Scope and app-role guards for Entra ID tokens (Microsoft.Identity.Web's
//! `RequiredScope` and `RequiredScopeOrAppPermission`): delegated permissions are the
//! token's `scp`, application permissions its `roles`.

use std::sync::Arc;

use erp_core::{AuthMethod, Principal};
use http::Request;

use super::require::{AuthorizeRule, Require, RequireLayer, Verdict};
use crate::{AuthError, TokenClaims, azure::is_scope_token};

/// What a [`ScopeRule`] asks of the token.
#[derive(Debug, Clone)]
enum Wanted {
    /// At least one of these delegated scopes in `scp`.
    AnyScope(Arc<[String]>),
    /// This app role (application permission) in `roles`.
    AppRole(Arc<[String]>),
}

/// A delegated scope or an app role of the request's Entra ID token. No principal: 401;
/// a principal whose token lacks it (or that did not come with an Entra ID token at
/// all: local tokens and cookies carry no Entra ID permissions): 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope=".."`.
#[derive(Debug, Clone)]
pub struct ScopeRule {
    wanted: Wanted,
    /// The challenge's `scope` value, computed once.
    challenge: Arc<str>,
}

/// Requires a scope or app role; put it inside an [`AuthLayer`](super::AuthLayer).
pub type RequireScopeLayer = RequireLayer<ScopeRule>;

/// The service made by [`RequireScopeLayer`].
pub type RequireScope<S> = Require<S, ScopeRule>;

fn checked(values: Vec<String>) -> (Arc<[String]>, Arc<str>) {
    assert!(!values.is_empty(), "a scope guard needs at least one scope");
    for v in &values {
        assert!(
            is_scope_token(v),
            "{v:?} is not a scope name (RFC 6749 scope-token)"
        );
    }
    let challenge: Arc<str> = values.join(" ").into();
    (values.into(), challenge)
}

/// Requires the delegated scope `scope` in the token's `scp`.
///
/// # Panics
/// If `scope` is not an RFC 6749 scope-token (spaces, quotes, backslashes, non-ASCII):
/// a configuration error found when the router is built.
pub fn require_scope(scope: impl Into<String>) -> RequireScopeLayer {
    require_any_scope([scope])
}

/// Requires at least one of `scopes` in the token's `scp`.
///
/// # Panics
/// If the list is empty or holds a value that is not a scope-token.
pub fn require_any_scope<I, S>(scopes: I) -> RequireScopeLayer
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let (values, challenge) = checked(scopes.into_iter().map(Into::into).collect());
    RequireLayer::new(ScopeRule {
        wanted: Wanted::AnyScope(values),
        challenge,
    })
}

/// Requires the app role `role` (an application permission of a daemon, or an app role
/// assigned to a user) in the token's `roles`.
///
/// # Panics
/// If `role` is not a scope-token.
pub fn require_app_role(role: impl Into<String>) -> RequireScopeLayer {
    let (values, challenge) = checked(vec![role.into()]);
    RequireLayer::new(ScopeRule {
        wanted: Wanted::AppRole(values),
        challenge,
    })
}

impl RequireScopeLayer {
    /// The verdict of the layer's rule for a request's principal and token claims.
    pub fn check(
        &self,
        principal: Option<&Principal>,
        claims: Option<&TokenClaims>,
    ) -> Result<(), AuthError> {
        self.rule().check(principal, claims)
    }
}

impl ScopeRule {
    /// The verdict for a request's principal and token claims.
    pub fn check(
        &self,
        principal: Option<&Principal>,
        claims: Option<&TokenClaims>,
    ) -> Result<(), AuthError> {
        let principal = principal.ok_or(AuthError::MissingCredential)?;
        let allowed = match claims {
            Some(claims) if principal.auth_method == AuthMethod::AzureAd => match &self.wanted {
                Wanted::AnyScope(scopes) => scopes.iter().any(|s| claims.has_scope(s)),
                Wanted::AppRole(roles) => roles.iter().any(|r| claims.has_app_role(r)),
            },
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(AuthError::InsufficientScope {
                scope: Arc::clone(&self.challenge),
            })
        }
    }
}

impl AuthorizeRule for ScopeRule {
    type Future = std::future::Ready<Result<(), AuthError>>;

    fn authorize<B>(&self, request: &Request<B>) -> Verdict<Self::Future> {
        // Two extension lookups and a few string compares: no allocation on success.
        match self.check(
            request.extensions().get::<Principal>(),
            request.extensions().get::<TokenClaims>(),
        ) {
            Ok(()) => Verdict::Allow,
            Err(e) => Verdict::Deny(e),
        }
    }
}

/// A refused scope or app-role check of [`AuthenticatedToken`](crate::AuthenticatedToken):
/// answers like the layer does (problem+json, RFC 6750 challenge).
#[derive(Debug)]
pub struct ScopeRejection(pub AuthError);

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for ScopeRejection {
    fn into_response(self) -> axum::response::Response {
        super::problem_response(&self.0).into_response()
    }
}
