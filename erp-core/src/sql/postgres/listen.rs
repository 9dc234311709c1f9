use std::{sync::Arc, time::Duration};

use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

use super::PgConfig;
use crate::{FeedStatus, FeedTask, RevocationEvent};

/// Receives revocations published by any instance on the same database.
///
/// Pooled connections drop `NOTIFY` messages, so this holds a dedicated connection of its
/// own and polls it. When that connection breaks it reconnects with backoff, and after
/// every (re)connect it emits [`RevocationEvent::All`]: notifications sent while it was
/// away are lost, so subscribers must drop everything they cached.
///
/// A connection can also die silently (a partition, a stalled backend): no error, and no
/// notification either. So the listener sends a heartbeat (`LISTEN` again) on its connection
/// every `heartbeat`; an answer proves every notification queued before it arrived, and
/// no answer within `heartbeat` drops the connection and reconnects. Its
/// [`FeedStatus`] tells readers how fresh the feed is.
#[derive(Debug)]
pub struct RevocationListener {
    feed: FeedTask,
}

impl RevocationListener {
    /// Starts listening on `config`'s revocation channel with a 1 s heartbeat. Needs a
    /// tokio runtime.
    pub fn start(config: &PgConfig) -> Self {
        Self::start_with_heartbeat(config, Duration::from_secs(1))
    }

    /// As [`start`](Self::start), with a heartbeat every `heartbeat` (at least 50 ms).
    pub fn start_with_heartbeat(config: &PgConfig, heartbeat: Duration) -> Self {
        let mut pg = config.pg.clone();
        // Its own name, so operators (and tests) can tell it from pooled connections; the
        // configured name follows, to tell one deployment's (or test's) listener apart.
        let name = match pg.get_application_name() {
            None | Some("erp-toolkit") => "erp-toolkit-listener".to_owned(),
            Some(n) => format!("erp-toolkit-listener {n}"),
        };
        pg.application_name(&name);
        let channel = config.revocation_channel();
        let heartbeat = heartbeat.max(Duration::from_millis(50));
        Self {
            feed: FeedTask::spawn(|sender, status| run(pg, channel, sender, status, heartbeat)),
        }
    }

    /// The feed's health: connected, and when it last proved alive.
    pub fn status(&self) -> Arc<FeedStatus> {
        self.feed.status()
    }

    /// A new receiver of events. A receiver that falls behind gets
    /// `RecvError::Lagged`, which must be read as `All`.
    pub fn subscribe(&self) -> broadcast::Receiver<RevocationEvent> {
        self.feed.subscribe()
    }

    /// True while the listening connection is up.
    pub fn is_connected(&self) -> bool {
        self.feed.status().is_connected()
    }
}

async fn run(
    pg: tokio_postgres::Config,
    channel: String,
    sender: broadcast::Sender<RevocationEvent>,
    status: Arc<FeedStatus>,
    heartbeat: Duration,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match pg.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let pump = tokio::spawn(async move {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(AsyncMessage::Notification(n)) => {
                                if tx.send(n).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "revocation listener connection failed");
                                return;
                            }
                        }
                    }
                });
                // The channel name is ours (`erp_rev_` + a validated schema name).
                let listen = format!("LISTEN {channel}");
                match client.batch_execute(&listen).await {
                    Ok(()) => {
                        status.alive();
                        backoff = Duration::from_millis(100);
                        let _ = sender.send(RevocationEvent::All);
                        tracing::info!(%channel, "listening for revocations");
                        let mut tick = tokio::time::interval(heartbeat);
                        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                        loop {
                            tokio::select! {
                                n = rx.recv() => match n {
                                    Some(n) => {
                                        status.alive();
                                        if n.channel() == channel {
                                            let _ = sender
                                                .send(RevocationEvent::from_payload(n.payload()));
                                        }
                                    }
                                    None => break,
                                },
                                _ = tick.tick() => {
                                    // LISTEN again as the heartbeat: a no-op round trip,
                                    // and `pg_stat_activity.query` keeps naming the channel.
                                    let beat = tokio::time::timeout(
                                        heartbeat,
                                        client.batch_execute(&listen),
                                    )
                                    .await;
                                    if matches!(beat, Ok(Ok(()))) {
                                        status.alive();
                                    } else {
                                        tracing::warn!("revocation listener heartbeat unanswered");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN failed"),
                }
                status.down();
                pump.abort();
                drop(client);
                tracing::warn!("revocation listener disconnected; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, "revocation listener cannot connect");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
