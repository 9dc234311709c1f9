use std::time::Duration;

use async_trait::async_trait;
use erp_core::{RevocationEvent, RevocationPublisher};
use tokio::{sync::mpsc, time::Instant};

use super::RedisClient;
use crate::metrics::REVOCATION_PUBLISH;

/// Publishes committed revocations on the Redis bus that
/// [`RedisRevocationBus`](super::RedisRevocationBus) follows.
///
/// Publishing is off the request path: a logout does not wait for Redis, nor fail with
/// it (the revocation has committed in the database already). One background task
/// publishes the events in order; an attempt that fails is retried with backoff until it
/// succeeds or the event is older than the give-up bound (default 5 min, the session
/// guard's default entry TTL: past it no instance still trusts an entry the event would
/// drop). Every failed attempt counts as `retried` and an event given up as `dropped` in
/// `erp_auth_revocation_publish_total`, and is logged. Meanwhile followers that stay
/// subscribed do not see the event; the staleness bound of the session guard covers
/// only followers whose own feed went stale (docs/security.md states the gap).
#[derive(Debug, Clone)]
pub struct RedisRevocationPublisher {
    queue: mpsc::UnboundedSender<(RevocationEvent, Instant)>,
}

impl RedisRevocationPublisher {
    /// A publisher on `client`'s revocation channel that gives an event up after 5 min.
    /// Needs a tokio runtime.
    pub fn new(client: RedisClient) -> Self {
        Self::with_give_up_after(client, Duration::from_secs(300))
    }

    /// As [`new`](Self::new), giving an undeliverable event up after `give_up_after`.
    pub fn with_give_up_after(client: RedisClient, give_up_after: Duration) -> Self {
        let (queue, events) = mpsc::unbounded_channel();
        tokio::spawn(deliver(client, events, give_up_after));
        Self { queue }
    }
}

#[async_trait]
impl RevocationPublisher for RedisRevocationPublisher {
    async fn publish(&self, event: &RevocationEvent) {
        // Fails only once the delivery task is gone (runtime shutting down).
        let _ = self.queue.send((event.clone(), Instant::now()));
    }
}

/// One `PUBLISH`, bounded by the client's timeout; the error in words without the
/// server's text.
async fn publish_once(
    client: &RedisClient,
    conn: &mut ::redis::aio::ConnectionManager,
    channel: &str,
    payload: &str,
) -> Result<(), String> {
    let attempt = tokio::time::timeout(
        client.timeout(),
        ::redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload)
            .query_async::<i64>(conn),
    )
    .await;
    match attempt {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("{:?}", e.kind())),
        Err(_) => Err(format!("no answer within {:?}", client.timeout())),
    }
}

/// Publishes `event` on `client`'s revocation channel now, once, for a short-lived
/// process such as the CLI, which cannot leave the event to a background task that dies
/// with it. The caller reports a failure: the revocation has committed, but instances
/// following only the Redis bus would learn of it from their cache TTL.
///
/// # Errors
///
/// [`erp_core::Error::Unavailable`] when Redis does not take the message in time.
pub async fn publish_now(client: &RedisClient, event: &RevocationEvent) -> erp_core::Result<()> {
    let mut conn = client.connection();
    publish_once(
        client,
        &mut conn,
        &client.revocation_channel(),
        &event.to_payload(),
    )
    .await
    .map_err(|reason| erp_core::Error::Unavailable {
        backend: erp_core::Backend::Redis,
        reason: format!("redis: revocation not published: {reason}"),
        source: None,
    })
}

/// Publishes queued events in order until every publisher is dropped.
async fn deliver(
    client: RedisClient,
    mut events: mpsc::UnboundedReceiver<(RevocationEvent, Instant)>,
    give_up_after: Duration,
) {
    let channel = client.revocation_channel();
    let mut conn = client.connection();
    while let Some((event, queued)) = events.recv().await {
        let payload = event.to_payload();
        let mut backoff = Duration::from_millis(50);
        loop {
            let error = match publish_once(&client, &mut conn, &channel, &payload).await {
                Ok(()) => {
                    metrics::counter!(REVOCATION_PUBLISH, "result" => "ok").increment(1);
                    break;
                }
                Err(e) => e,
            };
            if queued.elapsed() >= give_up_after {
                metrics::counter!(REVOCATION_PUBLISH, "result" => "dropped").increment(1);
                tracing::error!(
                    %error,
                    "revocation not published on Redis within {give_up_after:?}: given up; \
                     instances following only the Redis bus learn of it from their cache TTL"
                );
                break;
            }
            metrics::counter!(REVOCATION_PUBLISH, "result" => "retried").increment(1);
            tracing::warn!(%error, "publishing a revocation on Redis failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}
