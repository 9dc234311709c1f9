//! The health of a revocation feed (PostgreSQL `LISTEN` connection, Redis subscription).

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// When a revocation feed last proved alive: a notification, or a heartbeat answered
/// on the feed's own connection (which the server sends after any notification queued
/// before it, so everything revoked before that moment has been delivered).
///
/// Readers bound their trust in cached answers with it: see `SessionGuard::with_revocation_feed`
/// in `erp-auth`.
#[derive(Debug)]
pub struct FeedStatus {
    origin: Instant,
    /// Milliseconds after `origin` of the last proof of life, plus one (0: never).
    last_alive: AtomicU64,
    connected: AtomicBool,
}

impl Default for FeedStatus {
    fn default() -> Self {
        Self::new()
    }
}

impl FeedStatus {
    /// A feed that has not connected yet.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_alive: AtomicU64::new(0),
            connected: AtomicBool::new(false),
        }
    }

    /// The feed is connected and just proved alive.
    pub fn alive(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_alive.store(ms + 1, Ordering::Relaxed);
        self.connected.store(true, Ordering::Relaxed);
    }

    /// The feed's connection is lost.
    pub fn down(&self) {
        self.connected.store(false, Ordering::Relaxed);
    }

    /// True while the feed's connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// How long ago the feed last proved alive; `None` if it never did.
    pub fn since_alive(&self) -> Option<Duration> {
        match self.last_alive.load(Ordering::Relaxed) {
            0 => None,
            ms => {
                let at = Duration::from_millis(ms - 1);
                Some(self.origin.elapsed().saturating_sub(at))
            }
        }
    }

    /// Connected and alive within `bound`: every revocation older than `bound` has been
    /// delivered.
    pub fn is_fresh(&self, bound: Duration) -> bool {
        self.is_connected() && self.since_alive().is_some_and(|d| d <= bound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_needs_a_connection_and_a_recent_sign_of_life() {
        let feed = FeedStatus::new();
        assert!(!feed.is_fresh(Duration::from_secs(60)), "never connected");
        feed.alive();
        assert!(feed.is_fresh(Duration::from_secs(60)));
        assert!(feed.since_alive().unwrap() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!feed.is_fresh(Duration::from_millis(10)), "too long ago");
        feed.alive();
        feed.down();
        assert!(!feed.is_fresh(Duration::from_secs(60)), "disconnected");
    }
}
