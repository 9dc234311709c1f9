//! A revocation feed (PostgreSQL `LISTEN` connection, Redis subscription): the task that
//! reads it and fans its events out, and its health.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{sync::broadcast, task::JoinHandle};

use crate::RevocationEvent;

/// What every revocation feed is from the outside: a background task that reads its
/// source and sends what it reads on a broadcast channel, and the [`FeedStatus`] it
/// keeps. Dropping it stops the task.
#[derive(Debug)]
pub struct FeedTask {
    sender: broadcast::Sender<RevocationEvent>,
    status: Arc<FeedStatus>,
    task: JoinHandle<()>,
}

impl FeedTask {
    /// Spawns `run` with the channel to send on and the status to keep. Needs a tokio
    /// runtime.
    pub fn spawn<F, Fut>(run: F) -> Self
    where
        F: FnOnce(broadcast::Sender<RevocationEvent>, Arc<FeedStatus>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (sender, _) = broadcast::channel(1024);
        let status = Arc::new(FeedStatus::new());
        let task = tokio::spawn(run(sender.clone(), Arc::clone(&status)));
        Self {
            sender,
            status,
            task,
        }
    }

    /// The feed's health: connected, and when it last proved alive.
    pub fn status(&self) -> Arc<FeedStatus> {
        Arc::clone(&self.status)
    }

    /// A new receiver of events. A receiver that falls behind gets
    /// `RecvError::Lagged`, which must be read as `All`.
    pub fn subscribe(&self) -> broadcast::Receiver<RevocationEvent> {
        self.sender.subscribe()
    }
}

impl Drop for FeedTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

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
