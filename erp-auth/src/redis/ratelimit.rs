use async_trait::async_trait;
use chrono::{DateTime, Utc};
use erp_core::{RateLimitStore, Result};

use super::{RedisClient, unavailable};

/// [`RateLimitStore`] in Redis: one hash per key (`<prefix>rl:<key>`), a field per window.
///
/// A hit is one Lua script (atomic in Redis): `HINCRBY` the window, push the hash's
/// expiry to the window's `expires_at`, drop windows that expired. Redis expires idle
/// keys itself, so [`purge_expired`](RateLimitStore::purge_expired) has nothing to do.
#[derive(Debug, Clone)]
pub struct RedisRateLimitStore {
    client: RedisClient,
    hit: ::redis::Script,
}

const HIT: &str = r"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) < tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], field) end
end
return n
";

impl RedisRateLimitStore {
    /// Counters in `client`'s Redis, under its prefix.
    pub fn new(client: RedisClient) -> Self {
        Self {
            client,
            hit: ::redis::Script::new(HIT),
        }
    }

    fn key(&self, key: &str) -> String {
        self.client.key(&["rl", key])
    }
}

#[async_trait]
impl RateLimitStore for RedisRateLimitStore {
    async fn hit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64> {
        let start = window_start.timestamp_millis();
        let lifetime = (expires_at.timestamp_millis() - start).max(1);
        // A window older than `lifetime` before this one has expired (windows of one key
        // have one length).
        let oldest_kept = start - lifetime;
        let ttl = (expires_at - Utc::now()).num_milliseconds().max(1);
        let mut conn = self.client.connection();
        self.hit
            .key(self.key(key))
            .arg(start)
            .arg(ttl)
            .arg(oldest_kept)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn count(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64> {
        let mut conn = self.client.connection();
        let count: Option<u64> = ::redis::cmd("HGET")
            .arg(self.key(key))
            .arg(window_start.timestamp_millis())
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(count.unwrap_or(0))
    }

    async fn reset(&self, key: &str) -> Result<()> {
        let mut conn = self.client.connection();
        let _: i64 = ::redis::cmd("DEL")
            .arg(self.key(key))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn purge_expired(&self, _now: DateTime<Utc>) -> Result<u64> {
        Ok(0)
    }
}
