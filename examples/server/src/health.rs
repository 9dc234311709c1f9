//! `GET /health`: status and latency of each dependency.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode};
use erp_core::{FeedStatus, sql::Executor};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    AppState,
    legacy_db::{Legacy, LegacyStatus},
};

/// Longest a health probe waits for one dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Overall or per-check status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything answers.
    Ok,
    /// An optional dependency is down; the server still serves.
    Degraded,
    /// A required dependency is down.
    Down,
}

/// Runs one check with the probe timeout; `fut` yields the dependency's latency.
async fn probe<F, E>(fut: F) -> (bool, Value)
where
    F: Future<Output = Result<Duration, E>>,
    E: std::fmt::Display,
{
    match tokio::time::timeout(PROBE_TIMEOUT, fut).await {
        Ok(Ok(latency)) => (
            true,
            json!({ "status": "ok", "latency_ms": (latency.as_secs_f64() * 1_000_000.0).round() / 1000.0 }),
        ),
        Ok(Err(e)) => (false, json!({ "status": "down", "error": e.to_string() })),
        Err(_) => (
            false,
            json!({ "status": "down", "error": format!("no answer within {PROBE_TIMEOUT:?}") }),
        ),
    }
}

fn http_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a plain HTTP client builds")
    })
}

/// Reachability of an HTTP service at its base URL. Any answer below 500 (a 404 or 405
/// on the bare base URL included) means the service is up; we must not send
/// credentials just to look.
async fn ping_http(url: &str) -> Result<Duration, String> {
    let started = std::time::Instant::now();
    match http_client().get(url).send().await {
        Ok(res) if !res.status().is_server_error() => Ok(started.elapsed()),
        Ok(res) => Err(format!("answered {}", res.status().as_u16())),
        Err(_) => Err("unreachable".into()),
    }
}

/// The legacy database: its latency once the schema check has passed; before, why not
/// (not checked yet, or the missing tables and columns).
async fn legacy_check(legacy: &Legacy) -> (bool, Value) {
    let source = legacy.source();
    let (ok, mut check) = match legacy.status() {
        LegacyStatus::Ready => probe(source.ping()).await,
        LegacyStatus::Unchecked { reason } => (
            false,
            json!({ "status": "down", "error": format!("schema not checked yet: {reason}") }),
        ),
        LegacyStatus::Mismatch { problems } => (
            false,
            json!({
                "status": "down",
                "error": "the database does not match the mapping",
                "missing": problems,
            }),
        ),
    };
    check["backend"] = json!(source.backend());
    (ok, check)
}

fn feed_check(feed: &FeedStatus, bound: Duration) -> Value {
    json!({
        "status": if feed.is_fresh(bound) { "ok" } else { "down" },
        "connected": feed.is_connected(),
        "last_alive_ms_ago": feed.since_alive().map(|d| d.as_millis() as u64),
    })
}

/// What several instances share: the revocation feeds (LISTEN, Redis bus) and Redis.
/// False when one is down: the instance is degraded (it fails closed for what they
/// guard), not down.
///
/// `revocation_feed` sums the feeds up as the session guard sees them (fresh while any
/// one is, alive when the freshest last was); `feeds` has each by name.
async fn shared_checks(app: &AppState, checks: &mut Value) -> bool {
    let mut ok = true;
    if let Some((_, bound)) = app.guard.revocation_feeds() {
        let feeds = app.feeds.statuses();
        let fresh = feeds.iter().any(|(_, f)| f.is_fresh(bound));
        let each: serde_json::Map<String, Value> = feeds
            .iter()
            .map(|(name, f)| ((*name).to_owned(), feed_check(f, bound)))
            .collect();
        // Every feed counts: one down while another carries the revocations still
        // degrades, so the operator hears of it before the second fails too.
        ok &= feeds.iter().all(|(_, f)| f.is_fresh(bound));
        checks["revocation_feed"] = json!({
            "status": if fresh { "ok" } else { "down" },
            "connected": feeds.iter().any(|(_, f)| f.is_connected()),
            "last_alive_ms_ago": feeds
                .iter()
                .filter_map(|(_, f)| f.since_alive())
                .min()
                .map(|d| d.as_millis() as u64),
            "max_staleness_ms": bound.as_millis() as u64,
            "feeds": each,
        });
    }
    if let Some(redis) = &app.redis {
        checks["redis"] = match redis.ping().await {
            Ok(latency) => json!({ "status": "ok", "latency_ms": latency.as_secs_f64() * 1000.0 }),
            Err(e) => {
                ok = false;
                json!({ "status": "down", "error": e.to_string() })
            }
        };
    }
    ok
}

/// 200 `ok` or `degraded` (the legacy database, the IdP keys, the external auth API or
/// the IAM service are missing), 503 `down` (the ERP database is).
pub async fn health(State(app): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    let iam_url = (app.config.auth_mode == crate::config::AuthMode::IamService)
        .then_some(app.config.iam_service_url.as_deref())
        .flatten();
    // Concurrently, so that dependencies which are all down cost one probe timeout, not
    // one each: a load balancer's health-check timeout must not take out the instance.
    let ((db_ok, mut database), legacy, external, iam) = tokio::join!(
        probe(app.db.ping()),
        async {
            match &app.legacy {
                Some(legacy) => Some(legacy_check(legacy).await),
                None => None,
            }
        },
        async {
            match &app.config.external {
                Some(ext) => Some(probe(ping_http(&ext.url)).await),
                None => None,
            }
        },
        async {
            match iam_url {
                Some(url) => Some(probe(ping_http(url)).await),
                None => None,
            }
        },
    );
    database["backend"] = json!(app.db.backend().as_str());
    let mut checks = json!({ "database": database });
    let mut degraded = false;
    if let Some((ok, check)) = legacy {
        degraded |= !ok;
        checks["legacy"] = check;
    }
    if let Some(runner) = &app.legacy_sync {
        let sync = runner.status();
        // A failed last run degrades: the copies are getting stale.
        let failed = sync
            .last_run
            .as_ref()
            .is_some_and(|r| r.outcome == crate::legacy_sync::Outcome::Failed);
        degraded |= failed;
        let mut check = json!(sync);
        check["status"] = json!(if failed { "down" } else { "ok" });
        checks["legacy_sync"] = check;
    }
    if let Some(azure) = app.authenticator.azure() {
        let serving = azure.jwks().is_serving();
        degraded |= !serving;
        checks["jwks"] = json!({ "status": if serving { "ok" } else { "down" }, "keys": azure.jwks().key_count() });
    }
    // Either being down degrades rather than takes the instance out: another instance
    // would reach the same upstream no better, and what does not need it still works.
    if let Some((ok, check)) = external {
        degraded |= !ok;
        checks["external_auth"] = check;
    }
    if let Some((ok, check)) = iam {
        degraded |= !ok;
        checks["iam_service"] = check;
    }
    degraded |= !shared_checks(&app, &mut checks).await;
    let status = if !db_ok {
        Status::Down
    } else if degraded {
        Status::Degraded
    } else {
        Status::Ok
    };
    let code = if status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(json!({ "status": status, "checks": checks })))
}
