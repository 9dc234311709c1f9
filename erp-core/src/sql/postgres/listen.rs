use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{sync::broadcast, task::JoinHandle};
use tokio_postgres::{AsyncMessage, NoTls};

use super::PgConfig;
use crate::RevocationEvent;

/// Receives revocations published by any instance on the same database.
///
/// Pooled connections drop `NOTIFY` messages, so this holds a dedicated connection of its
/// own and polls it. When that connection breaks it reconnects with backoff, and after
/// every (re)connect it emits [`RevocationEvent::All`]: notifications sent while it was
/// away are lost, so subscribers must drop everything they cached.
#[derive(Debug)]
pub struct RevocationListener {
    sender: broadcast::Sender<RevocationEvent>,
    connected: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl RevocationListener {
    /// Starts listening on `config`'s revocation channel. Needs a tokio runtime.
    pub fn start(config: &PgConfig) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let connected = Arc::new(AtomicBool::new(false));
        let mut pg = config.pg.clone();
        // Its own name, so operators (and tests) can tell it from pooled connections.
        pg.application_name("erp-toolkit-listener");
        let task = tokio::spawn(run(
            pg,
            config.revocation_channel(),
            sender.clone(),
            Arc::clone(&connected),
        ));
        Self {
            sender,
            connected,
            task,
        }
    }

    /// A new receiver of events. A receiver that falls behind gets
    /// `RecvError::Lagged`, which must be read as `All`.
    pub fn subscribe(&self) -> broadcast::Receiver<RevocationEvent> {
        self.sender.subscribe()
    }

    /// True while the listening connection is up.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }
}

impl Drop for RevocationListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    pg: tokio_postgres::Config,
    channel: String,
    sender: broadcast::Sender<RevocationEvent>,
    connected: Arc<AtomicBool>,
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
                match client.batch_execute(&format!("LISTEN {channel}")).await {
                    Ok(()) => {
                        connected.store(true, Ordering::Relaxed);
                        backoff = Duration::from_millis(100);
                        let _ = sender.send(RevocationEvent::All);
                        tracing::info!(%channel, "listening for revocations");
                        while let Some(n) = rx.recv().await {
                            if n.channel() == channel {
                                let _ = sender.send(RevocationEvent::from_payload(n.payload()));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN failed"),
                }
                connected.store(false, Ordering::Relaxed);
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
