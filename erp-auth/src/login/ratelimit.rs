use std::{fmt, sync::Arc, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use erp_core::RateLimitStore;

/// A login budget: at most about `limit` attempts per key in any `window`, counted in a
/// [`RateLimitStore`], so every instance on the same store shares it.
///
/// A sliding-window counter (as in Cloudflare's and nginx's limiters): the store keeps one
/// count per key and fixed window, and an attempt is allowed while
/// `previous × (share of the previous window still inside the sliding window) + current`
/// stays within `limit`. Unlike a plain fixed window, a burst straddling a window
/// boundary cannot get twice the budget. Refused attempts count too: hammering a key
/// keeps it closed.
#[derive(Clone)]
pub struct RateLimiter {
    store: Arc<dyn RateLimitStore>,
    limit: u64,
    window: Duration,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// What an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the budget; recorded.
    Allowed,
    /// Over the budget; retry after this long (at the earliest, if nothing else comes).
    Limited(Duration),
}

impl RateLimiter {
    /// `limit` attempts per `window` in `store`; `limit` 0 disables the limit.
    pub fn new(store: Arc<dyn RateLimitStore>, limit: usize, window: Duration) -> Self {
        Self {
            store,
            limit: limit as u64,
            // A zero window would divide by zero; a millisecond is the finest grain stored.
            window: window.max(Duration::from_millis(1)),
        }
    }

    /// The same limit, counted in `store`.
    pub fn with_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.store = store;
        self
    }

    fn window_ms(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }

    /// Records an attempt for `key` at `now`. A store that cannot answer is an error,
    /// never an open door: the caller refuses the login (fail closed).
    pub async fn attempt(&self, key: &str, now: DateTime<Utc>) -> erp_core::Result<Verdict> {
        if self.limit == 0 {
            return Ok(Verdict::Allowed);
        }
        let w = self.window_ms();
        let now_ms = now.timestamp_millis();
        let start_ms = now_ms - now_ms.rem_euclid(w);
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).single().unwrap_or(now);
        let start = at(start_ms);
        // Kept through the next window, where it still weighs as the previous one.
        let expires_at = at(start_ms.saturating_add(w.saturating_mul(2)));
        let current = self.store.hit(key, start, expires_at).await?;
        let previous = self.store.count(key, at(start_ms - w)).await?;
        Ok(verdict(
            self.limit,
            w as u64,
            (now_ms - start_ms) as u64,
            previous,
            current,
        ))
    }

    /// Forgets `key` (a successful login clears its username's failures).
    pub async fn reset(&self, key: &str) -> erp_core::Result<()> {
        if self.limit == 0 {
            return Ok(());
        }
        self.store.reset(key).await
    }
}

/// Deletes expired rate-limit windows every `interval` until the returned task is
/// aborted (stores without their own expiry, such as the SQL table).
pub fn spawn_rate_limit_purger(
    store: Arc<dyn RateLimitStore>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    crate::purge::spawn_purge_loop(interval, "rate-limit windows", move |now| {
        let store = store.clone();
        async move { store.purge_expired(now).await }
    })
}

/// The sliding-window decision, in milliseconds: `elapsed` into the current window of
/// length `window`; `current` includes this attempt.
fn verdict(limit: u64, window: u64, elapsed: u64, previous: u64, current: u64) -> Verdict {
    let remaining = window - elapsed.min(window);
    // previous × remaining / window + current <= limit, without floats.
    let weighted = |prev: u64, rem: u64, cur: u64| {
        u128::from(prev) * u128::from(rem) + u128::from(cur) * u128::from(window)
    };
    let budget = u128::from(limit) * u128::from(window);
    if weighted(previous, remaining, current) <= budget {
        return Verdict::Allowed;
    }
    // When would one more attempt fit, if nothing else came? Later in this window, as the
    // previous window's share shrinks, or in the next one, where this window weighs in.
    let in_this = (current < limit && previous > 0).then(|| {
        // previous × (window - e) <= (limit - current - 1) × window
        let allowed = u128::from(limit - current - 1) * u128::from(window);
        let need_remaining = allowed / u128::from(previous);
        let e = u128::from(window).saturating_sub(need_remaining);
        e.saturating_sub(u128::from(elapsed))
    });
    let in_next = {
        // current × (window - e) <= (limit - 1) × window
        let allowed = u128::from(limit.saturating_sub(1)) * u128::from(window);
        let e = u128::from(window).saturating_sub(allowed / u128::from(current.max(1)));
        u128::from(remaining) + e
    };
    let wait = in_this.map_or(in_next, |t| t.min(in_next));
    Verdict::Limited(Duration::from_millis(
        u64::try_from(wait).unwrap_or(u64::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use erp_core::memory::MemoryStore;

    #[test]
    fn verdicts() {
        let w = 10_000;
        // Fresh key: up to the limit.
        assert_eq!(verdict(3, w, 0, 0, 3), Verdict::Allowed);
        // Over it with no history: wait for the next window, then until this window's
        // share leaves room for one: 4 × (w - e) <= 2 × w  =>  e >= w / 2.
        assert_eq!(
            verdict(3, w, 4_000, 0, 4),
            Verdict::Limited(Duration::from_millis(6_000 + 5_000))
        );
        // The previous window weighs with the share still inside the sliding window.
        assert_eq!(verdict(3, w, 5_000, 4, 1), Verdict::Allowed); // 4 × ½ + 1 = 3
        // The next attempt makes 2 here: 4 × (w - e) <= w  =>  e >= 7.5 s, 3.5 s from now.
        assert_eq!(
            verdict(3, w, 4_000, 4, 1),
            Verdict::Limited(Duration::from_millis(3_500))
        );
        // A boundary burst gets no second budget: 3 at the end of one window, then
        // the next window opens with them almost fully counted.
        assert!(matches!(verdict(3, w, 10, 3, 1), Verdict::Limited(_)));
    }

    #[tokio::test]
    async fn limits_count_in_the_store_and_reset() {
        let store = Arc::new(MemoryStore::new());
        let now = Utc.timestamp_millis_opt(1_000_000_000_000).unwrap();
        let a = RateLimiter::new(store.clone(), 3, Duration::from_secs(10));
        let b = RateLimiter::new(store, 3, Duration::from_secs(10));
        // Two limiters on one store (two instances): one budget.
        assert_eq!(a.attempt("k", now).await.unwrap(), Verdict::Allowed);
        assert_eq!(b.attempt("k", now).await.unwrap(), Verdict::Allowed);
        assert_eq!(a.attempt("k", now).await.unwrap(), Verdict::Allowed);
        assert!(matches!(
            b.attempt("k", now).await.unwrap(),
            Verdict::Limited(_)
        ));
        assert_eq!(a.attempt("other", now).await.unwrap(), Verdict::Allowed);
        b.reset("k").await.unwrap();
        assert_eq!(a.attempt("k", now).await.unwrap(), Verdict::Allowed);
        let off = RateLimiter::new(Arc::new(MemoryStore::new()), 0, Duration::from_secs(1));
        for _ in 0..10 {
            assert_eq!(off.attempt("x", now).await.unwrap(), Verdict::Allowed);
        }
    }
}
