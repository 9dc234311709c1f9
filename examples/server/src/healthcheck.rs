//! `erp-server healthcheck`: the container's health probe.
//!
//! Asks `GET /health` of the server this configuration would start (`ERP_BIND`, read
//! through [`ServerConfig`]) and exits 0 when it answers 200 (ok or degraded), 1 for
//! anything else: refused, timed out, 503, or no answer. It needs no shell, no `curl`
//! and none of the server's secrets, so it runs in the slim image as the exec-form
//! `HEALTHCHECK` and as a Kubernetes `exec` probe.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use crate::config::ServerConfig;

/// The probe's default time limit: above the ~2 s `/health` takes when every dependency
/// hangs (it then answers `degraded`), below the Dockerfile's `--timeout=5s`, so the
/// probe says why it failed instead of being killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(4);

/// Where to ask: the bound address, with a wildcard bind (`0.0.0.0`, `[::]`) asked on
/// the loopback of the same family.
pub fn probe_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// `Ok` with the health status when the server answered 200, `Err` with a short reason
/// otherwise.
pub async fn check(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        // The probe asks this machine: HTTP(S)_PROXY of the environment must not apply.
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let url = format!("http://{addr}/health");
    let response = client.get(&url).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("{url}: no answer within {timeout:?}")
        } else if e.is_connect() {
            format!("{url}: cannot connect (is the server running?)")
        } else {
            format!("{url}: {e}")
        }
    })?;
    let status = response.status();
    // The body names the failing dependency; a short excerpt is enough for a reason.
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let health = body["status"].as_str().unwrap_or("unknown").to_owned();
    if status == http::StatusCode::OK {
        Ok(health)
    } else {
        Err(format!("{url}: {status} ({health})"))
    }
}

/// Runs the probe with the environment's configuration; the process exit code.
pub async fn run(timeout: Duration) -> std::process::ExitCode {
    let bind = match ServerConfig::bind_from_env() {
        Ok(bind) => bind,
        Err(e) => {
            eprintln!("erp-server healthcheck: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match check(probe_address(bind), timeout).await {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("erp-server healthcheck: unhealthy: {reason}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_probed_on_loopback() {
        let probe = |s: &str| probe_address(s.parse().unwrap()).to_string();
        assert_eq!(probe("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(probe("[::]:9000"), "[::1]:9000");
        assert_eq!(probe("10.1.2.3:8080"), "10.1.2.3:8080");
    }
}
