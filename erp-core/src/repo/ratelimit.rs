use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;

/// Login attempt counters per key and fixed window, shared by every instance that uses
/// the same store (the policy, limits and `Retry-After` live in `erp-auth`).
///
/// Windows are named by their start; a store keeps a window at least until its
/// `expires_at`, and may drop it after.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Adds one attempt to `key`'s window starting at `window_start` and returns the
    /// window's count, this attempt included. Atomic: of concurrent hits from any
    /// instance, each sees its own count, so a budget cannot be overrun by a race.
    async fn hit(
        &self,
        key: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64>;
    /// The count of `key`'s window starting at `window_start` (0 when there is none).
    async fn count(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64>;
    /// Forgets every window of `key` (a successful login clears its username).
    async fn reset(&self, key: &str) -> Result<()>;
    /// Deletes the windows that expired before `now`; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64>;
}
