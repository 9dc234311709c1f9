use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::Duration,
};

use tokio::time::Instant;

/// A sliding-window log: at most `limit` attempts per key within `window`.
///
/// Exact (no fixed-window burst at the boundary), and memory-bounded: each key keeps at
/// most `limit` timestamps, and the map is swept of idle keys when it grows.
#[derive(Debug)]
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    keys: Mutex<HashMap<String, VecDeque<Instant>>>,
    max_keys: usize,
}

impl SlidingWindow {
    /// `limit` attempts per `window`; `limit` 0 disables the limit.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            keys: Mutex::new(HashMap::new()),
            max_keys: 100_000,
        }
    }

    /// Records an attempt for `key` if allowed; otherwise says how long to wait.
    pub fn attempt(&self, key: &str) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= self.max_keys {
            let window = self.window;
            keys.retain(|_, log| log.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let log = keys.entry(key.to_owned()).or_default();
        while log
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            log.pop_front();
        }
        if log.len() >= self.limit {
            let oldest = *log.front().unwrap_or(&now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        log.push_back(now);
        Ok(())
    }

    /// Forgets `key` (a successful login clears its username's failures).
    pub fn reset(&self, key: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limits_slide_and_reset() {
        let w = SlidingWindow::new(3, Duration::from_secs(10));
        for _ in 0..3 {
            assert!(w.attempt("k").is_ok());
        }
        let wait = w.attempt("k").unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        assert!(w.attempt("other").is_ok(), "keys are independent");
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(w.attempt("k").unwrap_err(), Duration::from_secs(6));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(w.attempt("k").is_ok(), "the oldest attempt left the window");
        w.reset("k");
        for _ in 0..3 {
            assert!(w.attempt("k").is_ok());
        }
        assert!(
            SlidingWindow::new(0, Duration::from_secs(1))
                .attempt("x")
                .is_ok()
        );
    }
}
