//! Metrics (the `metrics` facade; the server installs the Prometheus exporter).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `erp_auth_requests_total` | counter | `credential` (bearer, cookie, none), `outcome` (ok or a failure code) |
//! | `erp_auth_verify_seconds` | histogram | `credential` |
//! | `erp_auth_logins_total` | counter | `method` (local_password, external_api), `outcome` |
//! | `erp_auth_jwks_fetches_total` | counter | `result` (ok, error) |
//! | `erp_auth_upstream_seconds` | histogram | `service` (external_auth, iam), `result` |
//! | `erp_auth_token_cache_total` | counter | `result` (hit, miss, evict, refresh) |
//! | `erp_auth_graph_lookups_total` | counter | `result` (ok, error): group-overage lookups in Microsoft Graph; on error the user got no group roles |
//! | `erp_auth_revocation_publish_total` | counter | `result` (ok, retried, dropped): revocations published on the Redis bus; `dropped` ones were given up |

use std::{sync::OnceLock, time::Duration};

/// Requests seen by the layer.
pub const REQUESTS: &str = "erp_auth_requests_total";
/// Verification latency.
pub const VERIFY_SECONDS: &str = "erp_auth_verify_seconds";
/// Login attempts.
pub const LOGINS: &str = "erp_auth_logins_total";
/// JWKS fetches.
pub const JWKS_FETCHES: &str = "erp_auth_jwks_fetches_total";
/// Upstream call latency.
pub const UPSTREAM_SECONDS: &str = "erp_auth_upstream_seconds";
/// Group-overage lookups in Microsoft Graph.
pub const GRAPH_LOOKUPS: &str = "erp_auth_graph_lookups_total";
/// Verified-token cache outcomes.
pub const TOKEN_CACHE: &str = "erp_auth_token_cache_total";
/// Revocations published on the Redis bus.
pub const REVOCATION_PUBLISH: &str = "erp_auth_revocation_publish_total";

/// `(name, type, help)` of every metric this crate records, so that an exporter can
/// describe them (HELP and TYPE) before their first sample.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        REQUESTS,
        "counter",
        "Requests seen by the auth layer, by credential and outcome (ok or a failure code).",
    ),
    (
        VERIFY_SECONDS,
        "histogram",
        "Time the auth layer took to verify a request's credential, in seconds.",
    ),
    (
        LOGINS,
        "counter",
        "Login attempts, by method (local_password, external_api) and outcome.",
    ),
    (
        JWKS_FETCHES,
        "counter",
        "Fetches of the Entra ID signing keys (JWKS), by result.",
    ),
    (
        UPSTREAM_SECONDS,
        "histogram",
        "Latency of calls to the external auth API and the IAM service, in seconds.",
    ),
    (
        TOKEN_CACHE,
        "counter",
        "Verified-token cache outcomes (hit, miss, evict, refresh).",
    ),
    (
        GRAPH_LOOKUPS,
        "counter",
        "Group-overage lookups in Microsoft Graph, by result; on error the user got no group roles.",
    ),
    (
        REVOCATION_PUBLISH,
        "counter",
        "Revocations published on the Redis bus, by result (ok, retried: a failed attempt to be retried, dropped: given up).",
    ),
];

/// Gives the installed recorder the description of every metric in [`FAMILIES`] (call it
/// once, after installing the recorder).
pub fn describe() {
    for &(name, kind, help) in FAMILIES {
        match kind {
            "counter" => metrics::describe_counter!(name, help),
            "gauge" => metrics::describe_gauge!(name, help),
            _ => metrics::describe_histogram!(name, help),
        }
    }
}

/// Handles of the success path, registered on first use. The `counter!` macros build the
/// label set on every call; on the hot path that cost more than the rest of the layer.
/// The recorder must be installed before the first request (the server does so at start).
struct Hot {
    ok: [metrics::Counter; 2],
    seconds: [metrics::Histogram; 3],
    /// hit, miss, evict, refresh.
    cache: [metrics::Counter; 4],
}

fn hot() -> &'static Hot {
    static HOT: OnceLock<Hot> = OnceLock::new();
    HOT.get_or_init(|| Hot {
        ok: [
            metrics::counter!(REQUESTS, "credential" => "bearer", "outcome" => "ok"),
            metrics::counter!(REQUESTS, "credential" => "cookie", "outcome" => "ok"),
        ],
        seconds: [
            metrics::histogram!(VERIFY_SECONDS, "credential" => "bearer"),
            metrics::histogram!(VERIFY_SECONDS, "credential" => "cookie"),
            metrics::histogram!(VERIFY_SECONDS, "credential" => "none"),
        ],
        cache: [
            metrics::counter!(TOKEN_CACHE, "result" => "hit"),
            metrics::counter!(TOKEN_CACHE, "result" => "miss"),
            metrics::counter!(TOKEN_CACHE, "result" => "evict"),
            metrics::counter!(TOKEN_CACHE, "result" => "refresh"),
        ],
    })
}

/// Token cache outcomes.
#[derive(Clone, Copy)]
pub(crate) enum CacheEvent {
    Hit = 0,
    Miss = 1,
    Evict = 2,
    Refresh = 3,
}

pub(crate) fn token_cache(event: CacheEvent, n: u64) {
    hot().cache[event as usize].increment(n);
}

pub(crate) fn request(credential: &'static str, outcome: &'static str, took: Duration) {
    let hot = hot();
    let slot = match credential {
        "bearer" => 0,
        "cookie" => 1,
        _ => 2,
    };
    if outcome == "ok" && slot < 2 {
        hot.ok[slot].increment(1);
    } else {
        metrics::counter!(REQUESTS, "credential" => credential, "outcome" => outcome).increment(1);
    }
    hot.seconds[slot].record(took.as_secs_f64());
}

pub(crate) fn login(method: &'static str, outcome: &'static str) {
    metrics::counter!(LOGINS, "method" => method, "outcome" => outcome).increment(1);
}

pub(crate) fn jwks_fetch(ok: bool) {
    metrics::counter!(JWKS_FETCHES, "result" => if ok { "ok" } else { "error" }).increment(1);
}

pub(crate) fn upstream_latency(service: &'static str, took: Duration, ok: bool) {
    metrics::histogram!(UPSTREAM_SECONDS, "service" => service, "result" => if ok { "ok" } else { "error" })
        .record(took.as_secs_f64());
}

pub(crate) fn graph_lookup(ok: bool) {
    metrics::counter!(GRAPH_LOOKUPS, "result" => if ok { "ok" } else { "error" }).increment(1);
}
