use std::{
    sync::Arc,
    task::{Context, Poll},
};

use erp_core::Principal;
use http::{Request, Response};
use http_body_util::Either;
use tower::{Layer, Service};

use super::{AuthBody, ResponseFuture, problem_response};
use crate::AuthError;

#[derive(Debug, Clone, Copy)]
enum Mode {
    All,
    Any,
}

/// Requires roles of the authenticated principal; put it inside an
/// [`AuthLayer`](super::AuthLayer). A request without a principal is 401, one without the
/// roles 403.
#[derive(Debug, Clone)]
pub struct RequireRoleLayer {
    roles: Arc<[String]>,
    mode: Mode,
}

/// Requires `role`.
pub fn require_role(role: impl Into<String>) -> RequireRoleLayer {
    RequireRoleLayer {
        roles: Arc::from(vec![role.into()]),
        mode: Mode::All,
    }
}

/// Requires at least one of `roles`.
pub fn require_any_role<I, S>(roles: I) -> RequireRoleLayer
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    RequireRoleLayer {
        roles: roles.into_iter().map(Into::into).collect(),
        mode: Mode::Any,
    }
}

impl RequireRoleLayer {
    fn allows(&self, principal: &Principal) -> bool {
        match self.mode {
            Mode::All => self.roles.iter().all(|r| principal.has_role(r)),
            Mode::Any => self.roles.iter().any(|r| principal.has_role(r)),
        }
    }
}

impl<S> Layer<S> for RequireRoleLayer {
    type Service = RequireRole<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireRole {
            inner,
            rule: self.clone(),
        }
    }
}

/// The service made by [`RequireRoleLayer`].
#[derive(Debug, Clone)]
pub struct RequireRole<S> {
    inner: S,
    rule: RequireRoleLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireRole<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let verdict = match req.extensions().get::<Principal>() {
            None => Err(AuthError::MissingCredential),
            Some(p) if self.rule.allows(p) => Ok(()),
            Some(_) => Err(AuthError::Forbidden),
        };
        match verdict {
            Ok(()) => {
                let fut = self.inner.call(req);
                ResponseFuture::new(async move { fut.await.map(|r| r.map(Either::Left)) })
            }
            Err(e) => {
                ResponseFuture::new(async move { Ok(problem_response(&e).map(Either::Right)) })
            }
        }
    }
}
