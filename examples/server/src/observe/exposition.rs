//! `GET /metrics`: the one process-wide recorder (the `metrics` facade: counters and
//! gauges rendered by `metrics-exporter-prometheus`, histograms by
//! [`histogram`](super::histogram)) plus the process metrics, every family with its HELP
//! and TYPE from the first scrape on.
//!
//! The exporter writes a family only once it has a sample; a dashboard or an alert rule
//! cannot tell "no requests yet" from "not exported by this version". So families
//! without a sample get their HELP and TYPE lines (valid Prometheus text: a family may
//! have no samples).

use std::{fmt::Write, sync::OnceLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use super::{histogram::Histograms, http_metrics, process};

/// `(name, type, help)` of the HTTP metrics.
pub const HTTP_FAMILIES: &[(&str, &str, &str)] = &[
    (
        http_metrics::REQUESTS,
        "counter",
        "HTTP requests answered, by method, route template (`unmatched` when no route matched) and status.",
    ),
    (
        http_metrics::DURATION,
        "histogram",
        "Time from routing to the response head, in seconds, by method, route template and status.",
    ),
    (
        http_metrics::IN_FLIGHT,
        "gauge",
        "HTTP requests being handled.",
    ),
];

/// Every family the recorder may hold (the process metrics are rendered apart).
fn families() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    HTTP_FAMILIES.iter().chain(erp_auth::metrics::FAMILIES)
}

/// The process-wide recorder: counters and gauges go to the Prometheus exporter, every
/// histogram to a [`FixedHistogram`](super::histogram::FixedHistogram) with
/// [`http_metrics::DURATION_BUCKETS`] (buckets, unlike the exporter's default summaries,
/// add up across instances).
#[derive(Debug)]
struct Recorder {
    prometheus: PrometheusRecorder,
    histograms: &'static Histograms,
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.prometheus.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.histograms.describe(key.as_str(), &description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.prometheus.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.prometheus.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.histograms.series(key))
    }
}

/// Installs the process-wide recorder once (handlers may be built many times, e.g. in
/// tests) and returns the exporter's handle.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let prometheus = PrometheusBuilder::new().build_recorder();
            let handle = prometheus.handle();
            let recorder = Recorder {
                prometheus,
                histograms: Histograms::global(),
            };
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            for &(name, kind, help) in HTTP_FAMILIES {
                match kind {
                    "counter" => metrics::describe_counter!(name, help),
                    "gauge" => metrics::describe_gauge!(name, help),
                    _ => metrics::describe_histogram!(name, help),
                }
            }
            erp_auth::metrics::describe();
            // A gauge at 0 is a true sample: nothing in flight before the first request.
            http_metrics::in_flight().set(0.0);
            handle
        })
        .clone()
}

/// The Prometheus text of every metric of the process.
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    Histograms::global().render(&mut out);
    let mut missing = String::new();
    for &(name, kind, help) in families() {
        if !out.contains(&format!("# TYPE {name} ")) {
            let _ = writeln!(missing, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        }
    }
    out.push_str(&missing);
    process::Sample::read().render(&mut out);
    out
}
