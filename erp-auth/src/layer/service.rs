use std::task::{Context, Poll};

use http::{Request, Response};
use http_body_util::Either;
use tower::Service;

use super::{
    AuthBody, ResponseFuture,
    credential::{bearer_header, bearer_token},
    problem_response,
};
use crate::Authenticator;

/// The service made by [`AuthLayer`](super::AuthLayer).
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Authenticator,
}

impl<S> AuthService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, authenticator: Authenticator) -> Self {
        Self {
            inner,
            authenticator,
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthService<S>
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

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        let header = bearer_header(req.headers(), authenticator.max_token_bytes());
        ResponseFuture::new(async move {
            let outcome = match header {
                Ok(value) => match bearer_token(&value) {
                    Ok(token) => authenticator.authenticate_with_claims(token).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            match outcome {
                Ok((principal, claims)) => {
                    req.extensions_mut().insert(principal);
                    req.extensions_mut().insert(claims);
                    inner.call(req).await.map(|r| r.map(Either::Left))
                }
                Err(err) => {
                    tracing::debug!(error = %err, code = err.code(), "request not authenticated");
                    Ok(problem_response(&err).map(Either::Right))
                }
            }
        })
    }
}
