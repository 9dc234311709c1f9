use std::{sync::Arc, time::Duration};

use ::redis::aio::PubSub;
use erp_core::{FeedStatus, FeedTask, RevocationEvent};
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::RedisClient;

/// Receives revocations published on Redis by any instance sharing its key prefix
/// ([`RedisRevocationPublisher`](super::RedisRevocationPublisher)): the feed for
/// deployments whose database connections cannot `LISTEN` (PgBouncer in transaction
/// mode, some managed poolers). The messages are in the `NOTIFY` wire form
/// ([`RevocationEvent::to_payload`]).
///
/// It subscribes on a connection of its own and, when that breaks, resubscribes with
/// backoff; after every (re)subscribe it emits [`RevocationEvent::All`], because Redis
/// does not keep messages for absent subscribers.
///
/// A subscription can also die silently. So every `heartbeat` it publishes a beat on a
/// channel of its own (on the client's normal connection) and waits for it on the
/// subscription: Redis delivers a connection's messages in the order it executed the
/// publishes, so a beat received proves every revocation published before it was
/// delivered. A beat not back by the next one drops the subscription. Its
/// [`FeedStatus`] tells readers how fresh the feed is.
#[derive(Debug)]
pub struct RedisRevocationBus {
    feed: FeedTask,
}

impl RedisRevocationBus {
    /// Follows `client`'s revocation channel (`<prefix>revocations`) with a beat every
    /// `heartbeat` (at least 50 ms). Needs a tokio runtime.
    pub fn start(client: &RedisClient, heartbeat: Duration) -> Self {
        let client = client.clone();
        let heartbeat = heartbeat.max(Duration::from_millis(50));
        Self {
            feed: FeedTask::spawn(|sender, status| run(client, sender, status, heartbeat)),
        }
    }

    /// The feed's health: subscribed, and when it last proved alive.
    pub fn status(&self) -> Arc<FeedStatus> {
        self.feed.status()
    }

    /// A new receiver of events. A receiver that falls behind gets
    /// `RecvError::Lagged`, which must be read as `All`.
    pub fn subscribe(&self) -> broadcast::Receiver<RevocationEvent> {
        self.feed.subscribe()
    }
}

/// The channels of one subscriber.
struct Channels {
    revocations: String,
    /// This subscriber's alone: other instances' beats say nothing about our delivery.
    beats: String,
}

async fn run(
    client: RedisClient,
    sender: broadcast::Sender<RevocationEvent>,
    status: Arc<FeedStatus>,
    heartbeat: Duration,
) {
    let channels = Channels {
        revocations: client.revocation_channel(),
        beats: client.key(&[
            "revocations",
            "beat",
            &uuid::Uuid::new_v4().simple().to_string(),
        ]),
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        match tokio::time::timeout(client.timeout(), subscribe(&client, &channels)).await {
            Ok(Ok(pubsub)) => {
                status.alive();
                backoff = Duration::from_millis(100);
                let _ = sender.send(RevocationEvent::All);
                tracing::info!(channel = %channels.revocations, "following revocations on Redis");
                follow(&client, pubsub, &channels, &sender, &status, heartbeat).await;
                status.down();
                tracing::warn!("revocation bus subscription lost; resubscribing");
            }
            Ok(Err(e)) => {
                tracing::warn!(kind = ?e.kind(), "revocation bus cannot subscribe");
            }
            Err(_) => tracing::warn!("revocation bus: no answer from Redis while subscribing"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn subscribe(client: &RedisClient, channels: &Channels) -> ::redis::RedisResult<PubSub> {
    let mut pubsub = client.client.get_async_pubsub().await?;
    pubsub
        .subscribe(&[channels.revocations.as_str(), channels.beats.as_str()])
        .await?;
    Ok(pubsub)
}

/// Forwards revocations until the subscription ends or a beat goes unanswered.
async fn follow(
    client: &RedisClient,
    pubsub: PubSub,
    channels: &Channels,
    sender: &broadcast::Sender<RevocationEvent>,
    status: &FeedStatus,
    heartbeat: Duration,
) {
    let mut messages = pubsub.into_on_message();
    let mut conn = client.connection();
    let mut tick = tokio::time::interval(heartbeat);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut beat: u64 = 0;
    let mut awaited: Option<u64> = None;
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return };
                status.alive();
                let channel = message.get_channel_name();
                if channel == channels.revocations {
                    let event = message
                        .get_payload::<String>()
                        .map_or(RevocationEvent::All, |p| RevocationEvent::from_payload(&p));
                    let _ = sender.send(event);
                } else if channel == channels.beats && message.get_payload::<u64>().ok() == awaited {
                    awaited = None;
                }
            }
            _ = tick.tick() => {
                if awaited.is_some() {
                    tracing::warn!("revocation bus heartbeat unanswered");
                    return;
                }
                beat += 1;
                let sent = tokio::time::timeout(
                    heartbeat,
                    ::redis::cmd("PUBLISH")
                        .arg(&channels.beats)
                        .arg(beat)
                        .query_async::<i64>(&mut conn),
                )
                .await;
                if !matches!(sent, Ok(Ok(_))) {
                    tracing::warn!("revocation bus heartbeat could not be sent");
                    return;
                }
                awaited = Some(beat);
            }
        }
    }
}
