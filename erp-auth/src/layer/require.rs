//! The one authorization scaffold: a [`RequireLayer`] runs an [`AuthorizeRule`] on each
//! request and either passes it to the inner service or answers with the rule's
//! refusal (problem+json, RFC 6750 challenge), like tower-http's
//! `AsyncAuthorizeRequest`. Roles, scopes, app roles and IAM permissions are rules
//! (`require_role.rs`, `require_scope.rs`, `iam/require_permission.rs`); put the layer
//! inside an [`AuthLayer`](super::AuthLayer), which puts the `Principal` in the request.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{Request, Response};
use http_body_util::Either;
use tower::{Layer, Service};

use super::{AuthBody, problem_response};
use crate::AuthError;

/// What a rule decides about a request.
#[derive(Debug)]
pub enum Verdict<F> {
    /// Pass the request on.
    Allow,
    /// Refuse it with this error.
    Deny(AuthError),
    /// Ask someone (an IAM service) first; the future resolves to the verdict.
    Ask(F),
}

/// A check a [`RequireLayer`] runs on every request.
///
/// Rules that decide from the request alone (roles, scopes) answer `Allow` or `Deny`
/// at once and the request goes to the inner service without an allocation or a clone
/// of it; a rule that must ask someone answers [`Verdict::Ask`] with a future that
/// owns what it needs (it cannot borrow the request).
pub trait AuthorizeRule {
    /// The future of [`Verdict::Ask`]; rules that never ask use
    /// `std::future::Ready<Result<(), AuthError>>`.
    type Future: Future<Output = Result<(), AuthError>>;

    /// The verdict for `request`.
    fn authorize<B>(&self, request: &Request<B>) -> Verdict<Self::Future>;
}

/// Runs the rule `R` before the inner service.
#[derive(Debug, Clone)]
pub struct RequireLayer<R> {
    rule: R,
}

impl<R> RequireLayer<R> {
    /// A layer that checks `rule`.
    pub fn new(rule: R) -> Self {
        Self { rule }
    }

    /// The rule this layer checks.
    pub fn rule(&self) -> &R {
        &self.rule
    }
}

impl<S, R: Clone> Layer<S> for RequireLayer<R> {
    type Service = Require<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Require {
            inner,
            rule: self.rule.clone(),
        }
    }
}

/// The service made by [`RequireLayer`].
#[derive(Debug, Clone)]
pub struct Require<S, R> {
    inner: S,
    rule: R,
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for Require<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    R: AuthorizeRule,
{
    type Response = Response<AuthBody<ResBody>>;
    type Error = S::Error;
    type Future = RequireFuture<R::Future, S, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.rule.authorize(&req) {
            // The inner service was polled ready; a refusal leaves that readiness
            // unused, which tower permits.
            Verdict::Allow => RequireFuture::Calling {
                fut: self.inner.call(req),
            },
            Verdict::Deny(e) => RequireFuture::Refused {
                response: Some(problem_response(&e).map(Either::Right)),
            },
            Verdict::Ask(check) => {
                // The ready service goes with the future; a clone takes its place.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                RequireFuture::Asking {
                    check,
                    inner: Some(ready),
                    req: Some(req),
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`Require`]: the inner service's future itself once allowed,
    /// the rule's pending check, or the ready refusal.
    #[project = RequireProj]
    pub enum RequireFuture<C, S, ReqBody, ResBody>
    where
        S: Service<Request<ReqBody>>,
    {
        /// Passed on to the inner service.
        Calling { #[pin] fut: S::Future },
        /// Waiting for the rule's answer, with the ready inner service and the request.
        Asking {
            #[pin] check: C,
            inner: Option<S>,
            req: Option<Request<ReqBody>>,
        },
        /// Refused; the response is taken on the first poll.
        Refused { response: Option<Response<AuthBody<ResBody>>> },
    }
}

impl<C, S, ReqBody, ResBody> Future for RequireFuture<C, S, ReqBody, ResBody>
where
    C: Future<Output = Result<(), AuthError>>,
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<AuthBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project() {
                RequireProj::Calling { fut } => {
                    return fut.poll(cx).map_ok(|r| r.map(Either::Left));
                }
                RequireProj::Refused { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("RequireFuture polled after completion")));
                }
                RequireProj::Asking { check, inner, req } => match ready!(check.poll(cx)) {
                    Ok(()) => {
                        let (mut inner, req) = inner
                            .take()
                            .zip(req.take())
                            .expect("RequireFuture polled after completion");
                        RequireFuture::Calling {
                            fut: inner.call(req),
                        }
                    }
                    Err(e) => RequireFuture::Refused {
                        response: Some(problem_response(&e).map(Either::Right)),
                    },
                },
            };
            self.set(next);
        }
    }
}

impl<C, S, ReqBody, ResBody> std::fmt::Debug for RequireFuture<C, S, ReqBody, ResBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Calling { .. } => "RequireFuture::Calling",
            Self::Asking { .. } => "RequireFuture::Asking",
            Self::Refused { .. } => "RequireFuture::Refused",
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use bytes::Bytes;
    use http_body_util::Full;
    use tower::{ServiceExt, service_fn};

    use super::*;

    /// Asks "someone" (a task) whether the request's path is `/open`.
    #[derive(Clone)]
    struct AskPath;

    impl AuthorizeRule for AskPath {
        type Future = Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send>>;

        fn authorize<B>(&self, request: &Request<B>) -> Verdict<Self::Future> {
            match request.uri().path() {
                "/now" => Verdict::Allow,
                "/never" => Verdict::Deny(AuthError::Forbidden),
                path => {
                    let open = path == "/open";
                    Verdict::Ask(Box::pin(async move {
                        tokio::task::yield_now().await;
                        if open {
                            Ok(())
                        } else {
                            Err(AuthError::KeysUnavailable)
                        }
                    }))
                }
            }
        }
    }

    #[tokio::test]
    async fn rules_allow_deny_or_ask_first() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let inner = service_fn(move |_req: Request<()>| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new()))) }
        });
        let svc = RequireLayer::new(AskPath).layer(inner);
        for (path, status, called) in [
            ("/now", 200, 1),
            ("/never", 403, 1),
            ("/open", 200, 2),
            ("/shut", 503, 2),
        ] {
            let req = Request::get(path).body(()).unwrap();
            let res = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), status, "{path}");
            assert_eq!(calls.load(Ordering::SeqCst), called, "{path}");
        }
    }
}
