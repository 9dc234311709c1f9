use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::{RateLimitStore, Result};

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn hit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64> {
        let mut state = self.lock();
        let entry = state
            .rate_limits
            .entry((key.to_owned(), window_start.timestamp_millis()))
            .or_insert((0, expires_at));
        entry.0 += 1;
        Ok(entry.0)
    }

    async fn count(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64> {
        Ok(self
            .lock()
            .rate_limits
            .get(&(key.to_owned(), window_start.timestamp_millis()))
            .map_or(0, |(count, _)| *count))
    }

    async fn reset(&self, key: &str) -> Result<()> {
        self.lock().rate_limits.retain(|(k, _), _| k != key);
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.lock();
        let before = state.rate_limits.len();
        state
            .rate_limits
            .retain(|_, (_, expires_at)| *expires_at >= now);
        Ok((before - state.rate_limits.len()) as u64)
    }
}
