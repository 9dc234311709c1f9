//! The one way this crate builds its outbound HTTP clients (Entra ID, external auth API,
//! IAM service, Microsoft Graph) and sends their requests.

use std::{future::Future, time::Duration};

use tracing::Instrument;

use crate::AuthError;

/// A client whose whole request, connection included, ends within `timeout`. Redirects
/// are not followed: an identity endpoint that redirects is misconfigured or hijacked,
/// and following it would send tokens or passwords to another host.
pub(crate) fn build(timeout: Duration) -> Result<reqwest::Client, AuthError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AuthError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Sends `request` in an `info` span `http.client` (method, host, path: never the query
/// or headers, which may carry credentials), so an outgoing call shows in the logs'
/// context and, with the `otel` feature, in the trace of the request that made it; with
/// that feature the request also carries the span's W3C trace context (`traceparent`).
/// Every outgoing call of this crate goes through here.
pub(crate) fn send(
    request: reqwest::RequestBuilder,
) -> impl Future<Output = reqwest::Result<reqwest::Response>> {
    let (client, request) = request.build_split();
    async move {
        #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
        let mut request = request?;
        let url = request.url();
        let span = tracing::info_span!(
            "http.client",
            otel.kind = "client",
            http.request.method = %request.method(),
            server.address = url.host_str().unwrap_or_default(),
            url.path = url.path(),
            http.response.status_code = tracing::field::Empty,
        );
        #[cfg(feature = "otel")]
        trace_context::inject(&span, request.headers_mut());
        // The one place allowed to send (erp-auth/clippy.toml).
        #[allow(clippy::disallowed_methods)]
        let response = client.execute(request).instrument(span.clone()).await;
        if let Ok(response) = &response {
            span.record("http.response.status_code", response.status().as_u16());
        }
        response
    }
}

#[cfg(feature = "otel")]
mod trace_context {
    use opentelemetry_http::HeaderInjector;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    /// Writes `span`'s trace context with the application's global propagator: none
    /// installed (the OpenTelemetry default), or no OpenTelemetry layer in the
    /// subscriber, and nothing is written.
    pub(super) fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
        if span.is_disabled() {
            return;
        }
        let cx = span.context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&cx, &mut HeaderInjector(headers));
        });
    }
}
