//! What every request goes through around its handler: a request id, a trace span, HTTP
//! metrics. One service doing the three, instead of one layer (and one boxed or nested
//! future) each, because this runs on every request; it is the outermost part of each
//! endpoint's stack, built by the route table (`routes::table`), not a router layer
//! (docs/performance.md).

pub mod exposition;
pub mod histogram;
pub mod http_metrics;
pub mod process;
pub mod request_id;

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{Method, Request, Response};
use tower::Service;
use tracing::Span;

use http_metrics::HttpMetrics;

/// Per request: keeps the client's `x-request-id` or assigns one, returns it on the
/// response, runs the inner service in a `debug` span `request` (target
/// `erp_server::request`: method, path, request id), counts the request and its duration
/// under its route template, and logs 5xx answers at `error` with the request id, method
/// and route.
///
/// The span is `debug`, as tower-http's `TraceLayer` makes its spans by default: built
/// and formatted at `info`, it cost about 5 000 instructions a request (a sixth of a cached
/// `GET /auth/me`, docs/performance.md) for the few events logged inside a request.
/// `RUST_LOG=info,erp_server::request=debug` turns it on.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    route: Option<Arc<str>>,
}

impl<S> Observe<S> {
    /// Observes `inner`, the service of the route template `route` (`None`: the answer
    /// to requests no route matched). One per endpoint, built by the route table
    /// ([`crate::routes::table`]), which knows the template without asking the request.
    pub fn new(route: Option<Arc<str>>, inner: S) -> Self {
        Self { inner, route }
    }
}

impl<S, B, R> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        // Kept for the span, the error log and the response; not written into the
        // request's headers (nothing reads it there, and the copy and the insert were
        // about 600 instructions a request).
        let id = match req.headers().get(request_id::HEADER) {
            Some(id) => id.clone(),
            None => request_id::next(),
        };
        // `debug_span!` evaluates its fields only when the span is enabled.
        let span = tracing::debug_span!(
            target: "erp_server::request",
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            request_id = %id.to_str().unwrap_or("-"),
        );
        #[cfg(feature = "otel")]
        crate::otel::continue_trace(&span, req.headers());
        let route = self.route.clone();
        let method = req.method().clone();
        let in_flight = InFlight::start();
        let inner = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ResponseFuture {
            inner,
            state: Some(Pending {
                span,
                start,
                id,
                route,
                method,
                _in_flight: in_flight,
            }),
        }
    }
}

/// Counts a request in flight until dropped (answered, failed or cancelled).
struct InFlight;

impl InFlight {
    fn start() -> Self {
        http_metrics::in_flight().increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        http_metrics::in_flight().decrement(1.0);
    }
}

struct Pending {
    span: Span,
    start: Instant,
    id: http::HeaderValue,
    route: Option<Arc<str>>,
    method: Method,
    _in_flight: InFlight,
}

pin_project_lite::pin_project! {
    /// The future of [`Observe`].
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        state: Option<Pending>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.state.as_ref().map(|s| s.span.enter());
            ready!(this.inner.poll(cx))
        };
        let Some(done) = this.state.take() else {
            return Poll::Ready(result);
        };
        let took = done.start.elapsed();
        let status = match &result {
            Ok(res) => res.status().as_u16(),
            // Axum's services are infallible; another stack's error is answered by hyper
            // with a closed connection, which is what a 500 means to the client.
            Err(_) => 500,
        };
        HttpMetrics::global().record(&done.method, done.route.as_deref(), status, took);
        if status >= 500 {
            let _entered = done.span.enter();
            tracing::error!(
                status,
                method = %done.method,
                route = done.route.as_deref().unwrap_or("-"),
                request_id = done.id.to_str().unwrap_or("-"),
                latency_ms = took.as_secs_f64() * 1e3,
                "response failed"
            );
        }
        Poll::Ready(result.map(|mut res| {
            res.headers_mut()
                .entry(request_id::HEADER)
                .or_insert(done.id);
            res
        }))
    }
}
