//! The one background loop that drops expired rows (sessions, revoked token ids,
//! rate-limit windows): each store says what to purge, the loop how often.

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};

/// Calls `purge(now)` every `interval` (at least a second) until the task is aborted.
/// A failed round is logged and retried on the next tick: an unreachable database must
/// not end the loop, and rows merely wait one more round.
pub(crate) fn spawn_purge_loop<F, Fut>(
    interval: Duration,
    what: &'static str,
    purge: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(DateTime<Utc>) -> Fut + Send + 'static,
    Fut: Future<Output = erp_core::Result<u64>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match purge(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "purged expired {what}"),
                Err(e) => tracing::warn!(error = %e, "purging expired {what} failed"),
            }
        }
    })
}
