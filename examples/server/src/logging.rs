//! The process's log subscriber: `RUST_LOG` filter (default `info`), human-readable lines
//! or, with `ERP_LOG_FORMAT=json`, one JSON object per line for log shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The server binary and the load bench share it, so the
/// bench measures the tracing cost a default deployment pays.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = crate::config::ServerConfig::log_json_from_env();
    // `try_init`: a second call (tests, benches) keeps the first subscriber.
    let _ = if json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .try_init()
    } else {
        // Colours only on a terminal: in a file or a container log they are noise. And
        // `key=value` fields without the default formatter's styling: it styles every
        // field name (even with colours off), which made the request span, built on
        // every request, cost more than the handler (callgrind, docs/performance.md).
        let ansi = std::io::stdout().is_terminal();
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        if ansi {
            builder.try_init()
        } else {
            builder
                .with_ansi(false)
                .fmt_fields(plain_fields())
                .try_init()
        }
    };
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
