//! Metrics (the `metrics` facade; the server installs the Prometheus exporter).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `erp_auth_requests_total` | counter | `credential` (bearer, cookie, none), `outcome` (ok or a failure code) |
//! | `erp_auth_verify_seconds` | histogram | `credential` |
//! | `erp_auth_logins_total` | counter | `method` (local_password, external_api), `outcome` |
//! | `erp_auth_jwks_fetches_total` | counter | `result` (ok, error) |
//! | `erp_auth_upstream_seconds` | histogram | `service` (external_auth, iam), `result` |

use std::time::Duration;

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

pub(crate) fn request(credential: &'static str, outcome: &'static str, took: Duration) {
    metrics::counter!(REQUESTS, "credential" => credential, "outcome" => outcome).increment(1);
    metrics::histogram!(VERIFY_SECONDS, "credential" => credential).record(took.as_secs_f64());
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
