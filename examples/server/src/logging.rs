//! The process's log subscriber: `RUST_LOG` filter (default `info`), human-readable lines
//! or, with `ERP_LOG_FORMAT=json`, one JSON object per line for log shippers; and, with
//! the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, OTLP trace export of the
//! same spans ([`crate::otel`]).

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::{EnvFilter, registry::LookupSpan, util::SubscriberInitExt as _};

/// What [`init`] set up beyond the log lines; keep it until the process ends.
#[derive(Debug, Default)]
#[must_use = "dropping it does not stop export, but `shutdown` is what flushes the last spans"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    traces: Option<crate::otel::TraceExport>,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exports_traces(&self) -> bool {
        #[cfg(feature = "otel")]
        return self.traces.is_some();
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Exports the spans still buffered and stops the exporter. Blocks up to the
    /// exporter's timeout when the collector does not answer.
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(traces) = self.traces
            && let Err(e) = traces.shutdown()
        {
            tracing::warn!("flushing the trace exporter failed: {e}");
        }
    }
}

/// Why [`init`] refused.
pub type InitError = Box<dyn std::error::Error + Send + Sync>;

/// Installs the global subscriber. The server binary and the load bench share it, so the
/// bench measures the tracing cost a default deployment pays. Fails only on a malformed
/// OpenTelemetry setting (the message names it).
pub fn init() -> Result<Telemetry, InitError> {
    #[cfg(feature = "otel")]
    let traces = crate::otel::TraceExport::from_env()?;
    let telemetry = Telemetry {
        #[cfg(feature = "otel")]
        traces,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let mut filter = filter;
    if telemetry.exports_traces() {
        // The request span is `debug` (see `observe`): exported traces need it, so it is
        // enabled whenever they are, whatever `RUST_LOG` says of the rest.
        filter = filter.add_directive("erp_server::request=debug".parse()?);
    }
    let json = crate::config::ServerConfig::log_json_from_env();
    if json {
        install(
            tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_env_filter(filter)
                .finish(),
            &telemetry,
        );
    } else {
        // Colours only on a terminal: in a file or a container log they are noise. And
        // `key=value` fields without the default formatter's styling: it styles every
        // field name (even with colours off), which made the request span, built on
        // every request, cost more than the handler (callgrind, docs/performance.md).
        let ansi = std::io::stdout().is_terminal();
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        if ansi {
            install(builder.finish(), &telemetry);
        } else {
            install(
                builder.with_ansi(false).fmt_fields(plain_fields()).finish(),
                &telemetry,
            );
        }
    }
    Ok(telemetry)
}

/// Makes `subscriber` global, with the OpenTelemetry layer on top when traces are
/// exported: without them the subscriber is exactly the log one, no layer added.
/// `try_init`: a second call (tests, benches) keeps the first subscriber.
fn install<S>(subscriber: S, telemetry: &Telemetry)
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
{
    #[cfg(feature = "otel")]
    if let Some(traces) = &telemetry.traces {
        use tracing_subscriber::layer::SubscriberExt as _;
        let _ = subscriber.with(traces.layer()).try_init();
        return;
    }
    let _ = telemetry;
    let _ = subscriber.try_init();
}

/// `key=value` fields separated by spaces, the message bare: the default format without
/// its styling.
fn plain_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static
{
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        if field.name() == "message" {
            write!(w, "{value:?}")
        } else {
            write!(w, "{field}={value:?}")
        }
    })
    .delimited(" ")
}
