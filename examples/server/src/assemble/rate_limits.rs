//! Step 4: where the login budgets are counted: Redis when `REDIS_URL` is set, else the
//! database. Every instance on the same store shares them.

use std::{sync::Arc, time::Duration};

use erp_auth::{
    login::spawn_rate_limit_purger,
    redis::{RedisClient, RedisRateLimitStore},
};
use erp_core::{
    RateLimitStore,
    sql::{Database, SqlRateLimitStore},
};

use super::BoxError;
use crate::config::ServerConfig;

/// What the step built.
pub struct RateLimits {
    /// The Redis client, when `REDIS_URL` is set (also probed by `/health`).
    pub redis: Option<RedisClient>,
    /// The budgets' store.
    pub store: Arc<dyn RateLimitStore>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

/// The Redis client when `REDIS_URL` is set: it connects lazily, so a Redis that is
/// down does not stop the start (what it guards fails closed until it answers).
pub fn redis(config: &ServerConfig) -> Result<Option<RedisClient>, BoxError> {
    Ok(match &config.redis {
        Some(r) => Some(RedisClient::new(&r.url, &r.key_prefix, r.timeout)?),
        None => None,
    })
}

/// Counts in Redis when there is a client, else in the database, whose expired rows are
/// then purged in the background.
pub fn open(db: &Database, redis: Option<RedisClient>) -> RateLimits {
    let store: Arc<dyn RateLimitStore> = match &redis {
        Some(client) => Arc::new(RedisRateLimitStore::new(client.clone())),
        None => {
            let store = Arc::new(SqlRateLimitStore::new(db.clone()));
            spawn_rate_limit_purger(store.clone(), Duration::from_secs(600));
            store
        }
    };
    RateLimits { redis, store }
}
