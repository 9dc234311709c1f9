//! Redis as an optional part shared by several instances (feature `redis`): the login
//! rate-limit counters ([`RedisRateLimitStore`]) and the revocation bus
//! ([`RedisRevocationBus`] follows it, [`RedisRevocationPublisher`] publishes on it).
//!
//! One [`RedisClient`] per process: a connection manager that connects lazily and
//! reconnects by itself, so an instance starts while Redis is down and recovers when it
//! returns; until then whatever Redis guards fails closed. Every key starts with the
//! client's prefix, so several deployments (or test runs) can share one Redis.

mod bus;
mod publisher;
mod ratelimit;

use std::{fmt, time::Duration};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use erp_core::{Backend, Error};

pub use bus::RedisRevocationBus;
pub use publisher::{RedisRevocationPublisher, publish_now};
pub use ratelimit::RedisRateLimitStore;

/// A shared, reconnecting Redis connection with a key prefix.
#[derive(Clone)]
pub struct RedisClient {
    conn: ConnectionManager,
    /// For connections of their own (the bus's subscription).
    client: ::redis::Client,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("RedisClient")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Maps a Redis error without its text reaching clients (it may name the server).
pub(crate) fn unavailable(e: ::redis::RedisError) -> Error {
    Error::Unavailable {
        backend: Backend::Redis,
        reason: format!("redis: {:?}", e.kind()),
        source: Some(Box::new(e)),
    }
}

impl RedisClient {
    /// A client for `url` (`redis://[:password@]host:port[/db]`, or `rediss://` for TLS
    /// where the build has it) whose keys all start with `prefix`. Connects on first use;
    /// each command and each connection attempt is bounded by `timeout`, so a Redis that
    /// hangs costs a request at most that long before it fails closed.
    pub fn new(url: &str, prefix: impl Into<String>, timeout: Duration) -> erp_core::Result<Self> {
        let client = ::redis::Client::open(url)
            .map_err(|e| Error::config("REDIS_URL", format!("not a Redis URL: {:?}", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(timeout);
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(unavailable)?;
        Ok(Self {
            conn,
            client,
            prefix: prefix.into(),
            timeout,
        })
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        key.push_str(&parts.join(":"));
        key
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The bound on each command and connection attempt.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The channel revocations are published on (under the prefix).
    pub(crate) fn revocation_channel(&self) -> String {
        self.key(&["revocations"])
    }

    /// `PING`, and how long it took (for `/health`).
    pub async fn ping(&self) -> erp_core::Result<Duration> {
        let started = std::time::Instant::now();
        let mut conn = self.connection();
        let _: String = ::redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(started.elapsed())
    }
}
