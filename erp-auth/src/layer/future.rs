use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::Response;
use http_body_util::Either;

use super::AuthBody;

/// The boxed future of a request that had to wait for something (a signature check, a
/// store, an upstream service).
type Waiting<B, E> = Pin<Box<dyn Future<Output = Result<Response<AuthBody<B>>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`AuthService`](super::AuthService).
    ///
    /// A request the verified-token cache answers without waiting goes straight to the
    /// inner service's own future (or to the ready refusal): no allocation, no copy of a
    /// large state machine, as cheap as the service without the layer. Any other
    /// request waits in one boxed future, one allocation next to a signature check or a
    /// database round trip.
    #[project = Proj]
    pub enum ResponseFuture<F, B, E> {
        /// Authenticated from the cache; the inner service is answering.
        Calling { #[pin] fut: F },
        /// Refused from the cache; the response is taken on the first poll.
        Refused { response: Option<Response<AuthBody<B>>> },
        /// Authenticating (then answering) asynchronously.
        Waiting { fut: Waiting<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn waiting(
        fut: impl Future<Output = Result<Response<AuthBody<B>>, E>> + Send + 'static,
    ) -> Self {
        Self::Waiting { fut: Box::pin(fut) }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<AuthBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Proj::Calling { fut } => fut.poll(cx).map(|r| r.map(|res| res.map(Either::Left))),
            Proj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("auth ResponseFuture polled after completion"))),
            Proj::Waiting { fut } => fut.as_mut().poll(cx),
        }
    }
}

impl<F, B, E> fmt::Debug for ResponseFuture<F, B, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Calling { .. } => "ResponseFuture::Calling",
            Self::Refused { .. } => "ResponseFuture::Refused",
            Self::Waiting { .. } => "ResponseFuture::Waiting",
        })
    }
}
