use std::{sync::Arc, time::Duration};

use erp_core::FeedStatus;

/// How a [`SessionGuard`](super::SessionGuard) trusts its cache: built with the `with_*`
/// methods, given to [`SessionGuard::with_config`](super::SessionGuard::with_config).
///
/// ```
/// use std::time::Duration;
/// use erp_auth::session::SessionGuardConfig;
///
/// let config = SessionGuardConfig::default()
///     .with_entry_ttl(Duration::from_secs(60))
///     .with_grace_period(Some(Duration::from_secs(30)));
/// assert_eq!(config.entry_ttl(), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
pub struct SessionGuardConfig {
    entry_ttl: Duration,
    touch_interval: Duration,
    grace: Option<Duration>,
    max_entries: usize,
    feeds: Vec<Arc<FeedStatus>>,
    max_staleness: Option<Duration>,
}

impl Default for SessionGuardConfig {
    /// A 5-minute entry TTL, a 60-second touch throttle, no grace period, 100 000
    /// entries, no revocation feed.
    fn default() -> Self {
        Self {
            entry_ttl: Duration::from_secs(300),
            touch_interval: Duration::from_secs(60),
            grace: None,
            max_entries: 100_000,
            feeds: Vec::new(),
            max_staleness: None,
        }
    }
}

impl SessionGuardConfig {
    /// How long a cached entry is trusted without a notification (default 5 min).
    pub fn with_entry_ttl(mut self, ttl: Duration) -> Self {
        self.entry_ttl = ttl;
        self
    }

    /// Least time between two `last_seen_at` writes of one session (default 60 s).
    pub fn with_touch_interval(mut self, interval: Duration) -> Self {
        self.touch_interval = interval;
        self
    }

    /// Serve cached answers up to `grace` past their TTL while the store is down,
    /// instead of refusing with 503. Off by default: revocation then still applies
    /// everywhere it was already received, but a session never seen stays refused.
    pub fn with_grace_period(mut self, grace: Option<Duration>) -> Self {
        self.grace = grace;
        self
    }

    /// Largest number of cached entries (default 100 000; at least 1).
    pub fn with_max_entries(mut self, max: usize) -> Self {
        self.max_entries = max.max(1);
        self
    }

    /// Bounds staleness by the revocation feed the guard follows
    /// (`REVOCATION_MAX_STALENESS`): while `feed` is not fresh (disconnected, or silent
    /// for longer than `max_staleness`), a cached answer older than `max_staleness` is
    /// not trusted: the store is asked, and its being down too is a 503 (no grace
    /// period then). A revocation made anywhere is thus honoured within
    /// `max_staleness`, whatever happens to the feed.
    ///
    /// Called again (PostgreSQL `LISTEN` and the Redis bus), the guard follows both, and
    /// trusts its cache while at least one of them is fresh: each carries every
    /// revocation, so one fresh feed has delivered all of them (up to a Redis publish
    /// still being retried: see `RedisRevocationPublisher`). The last bound given holds.
    pub fn with_revocation_feed(mut self, feed: Arc<FeedStatus>, max_staleness: Duration) -> Self {
        self.feeds.push(feed);
        self.max_staleness = Some(max_staleness);
        self
    }

    /// See [`with_entry_ttl`](Self::with_entry_ttl).
    pub fn entry_ttl(&self) -> Duration {
        self.entry_ttl
    }

    /// See [`with_touch_interval`](Self::with_touch_interval).
    pub fn touch_interval(&self) -> Duration {
        self.touch_interval
    }

    /// See [`with_grace_period`](Self::with_grace_period).
    pub fn grace_period(&self) -> Option<Duration> {
        self.grace
    }

    /// See [`with_max_entries`](Self::with_max_entries).
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The followed feeds and the staleness bound, when a feed was given.
    pub fn revocation_feeds(&self) -> Option<(&[Arc<FeedStatus>], Duration)> {
        self.max_staleness.map(|d| (self.feeds.as_slice(), d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionGuard;

    #[test]
    fn the_guards_with_methods_keep_every_earlier_setting() {
        let feed = Arc::new(FeedStatus::new());
        let store = Arc::new(erp_core::memory::MemoryStore::new());
        let guard = SessionGuard::new(store)
            .with_revocation_feed(feed.clone(), Duration::from_secs(5))
            .with_entry_ttl(Duration::from_secs(7))
            .with_touch_interval(Duration::from_secs(3))
            .with_grace_period(Some(Duration::from_secs(11)))
            .with_max_entries(0);
        let c = guard.config();
        assert_eq!(c.entry_ttl(), Duration::from_secs(7));
        assert_eq!(c.touch_interval(), Duration::from_secs(3));
        assert_eq!(c.grace_period(), Some(Duration::from_secs(11)));
        assert_eq!(c.max_entries(), 1, "at least one entry");
        let (kept, bound) = guard.revocation_feeds().expect("the feed is kept");
        assert_eq!(kept.len(), 1);
        assert!(Arc::ptr_eq(&kept[0], &feed));
        assert_eq!(bound, Duration::from_secs(5));
    }

    #[test]
    fn defaults() {
        let c = SessionGuardConfig::default();
        assert_eq!(c.entry_ttl(), Duration::from_secs(300));
        assert_eq!(c.touch_interval(), Duration::from_secs(60));
        assert_eq!(c.grace_period(), None);
        assert_eq!(c.max_entries(), 100_000);
        assert!(c.revocation_feeds().is_none());
    }
}
