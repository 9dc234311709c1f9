use std::task::{Context, Poll};

use http::{Request, Response};
use http_body_util::Either;
use tower::{Layer, Service};

use super::IamVerifier;
use crate::{
    AuthError,
    layer::{AuthBody, ResponseFuture, problem_response},
};

/// Requires an IAM permission for the request's bearer token (IAM mode); put it inside
/// an [`AuthLayer`](crate::AuthLayer). Not allowed: 403; IAM down: 503.
#[derive(Debug, Clone)]
pub struct RequirePermissionLayer {
    iam: IamVerifier,
    permission: std::sync::Arc<str>,
}

/// Requires `permission`, asked of `iam`.
pub fn require_permission(iam: IamVerifier, permission: &str) -> RequirePermissionLayer {
    RequirePermissionLayer {
        iam,
        permission: permission.into(),
    }
}

impl<S> Layer<S> for RequirePermissionLayer {
    type Service = RequirePermission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePermission {
            inner,
            rule: self.clone(),
        }
    }
}

/// The service made by [`RequirePermissionLayer`].
#[derive(Debug, Clone)]
pub struct RequirePermission<S> {
    inner: S,
    rule: RequirePermissionLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequirePermission<S>
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
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rule = self.rule.clone();
        let token = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned());
        ResponseFuture::new(async move {
            let verdict = match token {
                None => Err(AuthError::MissingCredential),
                Some(token) => match rule.iam.check_permission(&token, &rule.permission).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(AuthError::Forbidden),
                    Err(e) => Err(e),
                },
            };
            match verdict {
                Ok(()) => inner.call(req).await.map(|r| r.map(Either::Left)),
                Err(e) => Ok(problem_response(&e).map(Either::Right)),
            }
        })
    }
}
