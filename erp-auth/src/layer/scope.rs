//! Scope and app-role guards for Entra ID tokens (Microsoft.Identity.Web's
//! `RequiredScope` and `RequiredScopeOrAppPermission`): delegated permissions are the
//! token's `scp`, application permissions its `roles`.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use erp_core::{AuthMethod, Principal};
use http::{Request, Response};
use http_body_util::Either;
use tower::{Layer, Service};

use super::{AuthBody, problem_response};
use crate::{AuthError, TokenClaims, azure::is_scope_token};

/// What a [`RequireScopeLayer`] asks of the token.
#[derive(Debug, Clone)]
enum Rule {
    /// At least one of these delegated scopes in `scp`.
    AnyScope(Arc<[String]>),
    /// This app role (application permission) in `roles`.
    AppRole(Arc<[String]>),
}

/// Requires a delegated scope or an app role of the request's Entra ID token; put it
/// inside an [`AuthLayer`](super::AuthLayer). No principal: 401; a principal whose token
/// lacks it (or that did not come with an Entra ID token at all: local tokens and
/// cookies carry no Entra ID permissions): 403 with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope=".."`.
#[derive(Debug, Clone)]
pub struct RequireScopeLayer {
    rule: Rule,
    /// The challenge's `scope` value, computed once.
    challenge: Arc<str>,
}

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
    RequireScopeLayer {
        rule: Rule::AnyScope(values),
        challenge,
    }
}

/// Requires the app role `role` (an application permission of a daemon, or an app role
/// assigned to a user) in the token's `roles`.
///
/// # Panics
/// If `role` is not a scope-token.
pub fn require_app_role(role: impl Into<String>) -> RequireScopeLayer {
    let (values, challenge) = checked(vec![role.into()]);
    RequireScopeLayer {
        rule: Rule::AppRole(values),
        challenge,
    }
}

impl RequireScopeLayer {
    /// The verdict for a request's principal and token claims.
    pub fn check(
        &self,
        principal: Option<&Principal>,
        claims: Option<&TokenClaims>,
    ) -> Result<(), AuthError> {
        let principal = principal.ok_or(AuthError::MissingCredential)?;
        let allowed = match claims {
            Some(claims) if principal.auth_method == AuthMethod::AzureAd => match &self.rule {
                Rule::AnyScope(scopes) => scopes.iter().any(|s| claims.has_scope(s)),
                Rule::AppRole(roles) => roles.iter().any(|r| claims.has_app_role(r)),
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

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope {
            inner,
            rule: self.clone(),
        }
    }
}

/// The service made by [`RequireScopeLayer`].
#[derive(Debug, Clone)]
pub struct RequireScope<S> {
    inner: S,
    rule: RequireScopeLayer,
}

pin_project_lite::pin_project! {
    /// Response future of [`RequireScope`]: the inner service's future itself when the
    /// token qualifies (no allocation, no extra poll layer on the hot path), or the
    /// ready refusal.
    #[project = GuardProj]
    pub enum GuardFuture<F, B> {
        /// Passed on to the inner service.
        Allowed { #[pin] inner: F },
        /// Refused; the response is taken on the first poll.
        Refused { response: Option<Response<AuthBody<B>>> },
    }
}

impl<F, B, E> Future for GuardFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            GuardProj::Allowed { inner } => inner.poll(cx).map_ok(|r| r.map(Either::Left)),
            GuardProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("GuardFuture polled after completion"))),
        }
    }
}

impl<F, B> std::fmt::Debug for GuardFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Allowed { .. } => "GuardFuture::Allowed",
            Self::Refused { .. } => "GuardFuture::Refused",
        })
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = GuardFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Two extension lookups and a few string compares: no allocation on success.
        let verdict = self.rule.check(
            req.extensions().get::<Principal>(),
            req.extensions().get::<TokenClaims>(),
        );
        // The inner service was polled ready and is called only when allowed; a refusal
        // leaves its readiness unused, which tower permits.
        match verdict {
            Ok(()) => GuardFuture::Allowed {
                inner: self.inner.call(req),
            },
            Err(e) => GuardFuture::Refused {
                response: Some(problem_response(&e).map(Either::Right)),
            },
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
        problem_response(&self.0).into_response()
    }
}
