//! The process's log subscriber: `RUST_LOG` filter (default `info`), human-readable lines
//! or, with `ERP_LOG_FORMAT=json`, one JSON object per line for log shippers.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. The server binary and the load bench share it, so the
/// bench measures the tracing cost a default deployment pays.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("ERP_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // `try_init`: a second call (tests, benches) keeps the first subscriber.
    let _ = if json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .try_init()
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).try_init()
    };
}
