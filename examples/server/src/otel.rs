//! OpenTelemetry traces (cargo feature `otel`, a default feature of this server).
//!
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, the
//! log subscriber gains a `tracing-opentelemetry` layer whose spans are exported over
//! OTLP/HTTP (protobuf) in batches; the request span continues the caller's W3C
//! `traceparent`, and erp-auth's outgoing calls carry the current span's. Without the
//! variable nothing of this is installed: no layer, no propagator, and the request path
//! pays one relaxed atomic load ([`continue_trace`]).
//!
//! The SDK reads the other standard variables itself: `OTEL_SERVICE_NAME` and
//! `OTEL_RESOURCE_ATTRIBUTES` (the service name defaults to `erp-server` here),
//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT` and the batch processor's `OTEL_BSP_*`.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::{Key, trace::TracerProvider as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_otlp::{ExporterBuildError, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider},
};
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
use tracing_subscriber::registry::LookupSpan;

/// The variables that turn export on: the traces-only one, then the general one.
pub const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The service name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one.
pub const DEFAULT_SERVICE_NAME: &str = "erp-server";

/// Set once a layer is handed out: from then on incoming trace context is read.
static PROPAGATING: AtomicBool = AtomicBool::new(false);

/// An OTLP trace pipeline: the SDK's tracer provider with a batch exporter.
#[derive(Debug, Clone)]
pub struct TraceExport {
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// The pipeline the standard variables describe, or `None` when no endpoint
    /// variable ([`ENDPOINT_VARS`]) is set: then the server runs without any of it.
    pub fn from_env() -> Result<Option<Self>, ExporterBuildError> {
        let set = ENDPOINT_VARS
            .iter()
            .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
        if !set {
            return Ok(None);
        }
        // The exporter resolves the endpoint from the variables itself, appending
        // `/v1/traces` to the general one as the specification says.
        let exporter = SpanExporter::builder().with_http().build()?;
        Ok(Some(Self::with_exporter(exporter)))
    }

    /// A pipeline exporting to `traces_url`, the full URL (`http://host:4318/v1/traces`),
    /// whatever the variables say.
    pub fn to_endpoint(traces_url: &str) -> Result<Self, ExporterBuildError> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url)
            .build()?;
        Ok(Self::with_exporter(exporter))
    }

    fn with_exporter(exporter: SpanExporter) -> Self {
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource())
            .build();
        Self { provider }
    }

    /// The `tracing` layer feeding this pipeline. Handing it out also installs the W3C
    /// trace-context propagator process-wide: from then on the request span continues
    /// an incoming `traceparent` and outgoing calls carry one.
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        PROPAGATING.store(true, Ordering::Release);
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer(DEFAULT_SERVICE_NAME))
    }

    /// Exports every span ended so far and waits for the collector's answer. Blocks the
    /// calling thread: call it from a blocking context (`spawn_blocking`), not a task.
    pub fn force_flush(&self) -> Result<(), opentelemetry_sdk::error::OTelSdkError> {
        self.provider.force_flush()
    }

    /// Flushes and stops the exporter (at process exit). Blocks like
    /// [`force_flush`](Self::force_flush).
    pub fn shutdown(&self) -> Result<(), opentelemetry_sdk::error::OTelSdkError> {
        self.provider.shutdown()
    }
}

/// The SDK's resource (service name and attributes from the variables), named
/// [`DEFAULT_SERVICE_NAME`] when they name no service.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&Key::from_static_str("service.name"))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    if unnamed {
        Resource::builder()
            .with_service_name(DEFAULT_SERVICE_NAME)
            .build()
    } else {
        detected
    }
}

/// Makes `span` (the request span, not yet entered) a child of the caller's span when the
/// request carries a valid W3C `traceparent` (and `tracestate`). Without a pipeline
/// installed this is one relaxed load; a request without trace context starts a new
/// trace.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !PROPAGATING.load(Ordering::Relaxed) || span.is_disabled() {
        return;
    }
    use opentelemetry::trace::TraceContextExt as _;
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    if parent.span().span_context().is_valid() {
        // Fails only without an OpenTelemetry layer in the subscriber, where there is
        // no trace to continue.
        let _ = span.set_parent(parent);
    }
}
