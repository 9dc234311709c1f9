//! HTTP request metrics, labelled by the matched route template (never the raw path: ids
//! in paths would create a series per id).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `http_requests_in_flight` | gauge | none |

use std::{
    collections::HashMap,
    sync::{OnceLock, RwLock},
    time::Duration,
};

use http::Method;

/// Requests answered.
pub const REQUESTS: &str = "http_requests_total";
/// Time from the request reaching the router to its response head.
pub const DURATION: &str = "http_request_duration_seconds";
/// Requests being handled now.
pub const IN_FLIGHT: &str = "http_requests_in_flight";
/// The `route` label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Buckets for [`DURATION`]: the cached routes answer in tens of microseconds, database
/// and upstream calls take milliseconds, timeouts seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// The handles of one `(method, route, status)` series, registered once.
#[derive(Debug)]
struct Series {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

/// Methods outside this list share the label `other`, so that a client inventing methods
/// cannot create series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

type BySeries = Vec<(&'static str, u16, &'static Series)>;

/// Series handles by route template, then by method and status. Registering a handle
/// builds and hashes its label set; doing that per request cost more than the whole
/// auth layer's cached path, so each series is registered once and its handles kept.
/// Route templates come from the router, so the map is bounded; handles are leaked on
/// purpose (they live as long as the process-wide recorder).
#[derive(Debug, Default)]
pub struct HttpMetrics {
    // foldhash: the keys are the router's own templates (no client chooses them), and
    // SipHash over them was a third of this function's cost.
    routes: RwLock<HashMap<Box<str>, BySeries, foldhash::fast::RandomState>>,
}

impl HttpMetrics {
    /// The process-wide instance (the recorder is process-wide too).
    pub fn global() -> &'static Self {
        static GLOBAL: OnceLock<HttpMetrics> = OnceLock::new();
        GLOBAL.get_or_init(Self::default)
    }

    /// Counts one answered request. `route` is the matched template, or `None`.
    pub fn record(&self, method: &Method, route: Option<&str>, status: u16, took: Duration) {
        let series = self.series(method_label(method), route.unwrap_or(UNMATCHED), status);
        series.requests.increment(1);
        series.duration.record(took.as_secs_f64());
    }

    fn series(&self, method: &'static str, route: &str, status: u16) -> &'static Series {
        let find = |list: &BySeries| {
            list.iter()
                .find(|(m, s, _)| *m == method && *s == status)
                .map(|(_, _, series)| *series)
        };
        // A poisoned lock only means a panic elsewhere while inserting: the map is intact.
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if let Some(series) = routes.get(route).and_then(find) {
            return series;
        }
        drop(routes);
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let list = routes.entry(route.into()).or_default();
        if let Some(series) = find(list) {
            return series;
        }
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.to_string()),
        ];
        let series: &'static Series = Box::leak(Box::new(Series {
            requests: metrics::counter!(REQUESTS, &labels),
            duration: metrics::histogram!(DURATION, &labels),
        }));
        list.push((method, status, series));
        series
    }
}

/// The in-flight gauge (one handle for the process).
pub fn in_flight() -> &'static metrics::Gauge {
    static GAUGE: OnceLock<metrics::Gauge> = OnceLock::new();
    GAUGE.get_or_init(|| metrics::gauge!(IN_FLIGHT))
}
