//! The deadpool manager of SQL Server connections.
//!
//! `bb8-tiberius` and `deadpool-tiberius` are built on tiberius 0.12, so this crate
//! carries its own small manager for 0.13.

use std::{
    fmt,
    sync::Mutex,
    time::{Duration, Instant},
};

use erp_core::{Backend, Error};
use tiberius::Client;
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use super::error::map_connect_error;

/// A tiberius client over tokio TCP: what the pool hands out.
pub type MssqlClient = Client<Compat<TcpStream>>;

/// Run on every checkout of a pooled connection: a call that failed mid-transaction
/// must not hand its transaction on (tiberius has no `sp_reset_connection`), and the
/// `SELECT` proves the connection still answers. One round trip for both. The value
/// is CAST so that no `sql_variant` ever comes back.
pub(crate) const RECYCLE_SQL: &str =
    "IF @@TRANCOUNT > 0 ROLLBACK TRAN; SELECT CAST(1 AS INT) AS ok";

/// First pause after a failed connection attempt; doubles per failure up to the
/// configured maximum.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);

/// Opens and checks pooled SQL Server connections.
///
/// # Connecting
/// TCP (`TCP_NODELAY` on), then tiberius's prelogin, TLS and login, all bounded by
/// the connect timeout. An Azure SQL gateway may answer with a redirect
/// (`Error::Routing`): the manager then connects once to the host and port it names,
/// within the same time budget.
///
/// # Backoff
/// The pool opens connections on demand; when the server is down every call would
/// otherwise spend the whole connect timeout on its own attempt. After a failed
/// attempt the manager pauses new attempts for 100 ms, doubling with each further
/// failure up to the configured maximum (default 5 s): during the pause, calls that
/// need a new connection fail at once with [`Error::Unavailable`] quoting the last
/// failure. The first success resets the pause. Connections already in the pool are
/// not affected.
///
/// # Recycling
/// On checkout the manager runs `IF @@TRANCOUNT > 0 ROLLBACK TRAN; SELECT CAST(1 AS
/// INT)` within the connect timeout; a connection that fails it is dropped and the
/// pool takes or opens another.
pub struct MssqlManager {
    tds: tiberius::Config,
    server: String,
    connect_timeout: Duration,
    max_backoff: Duration,
    backoff: Mutex<BackoffState>,
}

impl fmt::Debug for MssqlManager {
    // The tiberius config holds the credentials: only say where we connect.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlManager")
            .field("server", &self.server)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_backoff", &self.max_backoff)
            .finish_non_exhaustive()
    }
}

/// Consecutive connection failures and the pause they impose.
#[derive(Debug, Default)]
struct BackoffState {
    failures: u32,
    retry_at: Option<Instant>,
    last_error: String,
}

impl MssqlManager {
    /// A manager for the server of `tds`, named `server` (`host:port`) in errors.
    pub(crate) fn new(
        tds: tiberius::Config,
        server: String,
        connect_timeout: Duration,
        max_backoff: Duration,
    ) -> Self {
        Self {
            tds,
            server,
            connect_timeout,
            max_backoff,
            backoff: Mutex::new(BackoffState::default()),
        }
    }

    /// `host:port` of the server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Opens one connection now, ignoring the pool and the backoff.
    pub async fn connect(&self) -> Result<MssqlClient, Error> {
        connect(&self.tds, &self.server, self.connect_timeout).await
    }

    /// If attempts are paused: how long until the next one, and the last failure.
    fn paused(&self) -> Option<(Duration, String)> {
        let state = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        let retry_at = state.retry_at?;
        let left = retry_at.checked_duration_since(Instant::now())?;
        Some((left, state.last_error.clone()))
    }

    fn record_failure(&self, error: &Error) {
        if self.max_backoff.is_zero() {
            return;
        }
        let mut state = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        state.failures = state.failures.saturating_add(1);
        let doublings = state.failures.saturating_sub(1).min(16);
        let pause = INITIAL_BACKOFF
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        state.retry_at = Some(Instant::now() + pause);
        state.last_error = error.to_string();
    }

    fn record_success(&self) {
        let mut state = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        *state = BackoffState::default();
    }
}

impl deadpool::managed::Manager for MssqlManager {
    type Type = MssqlClient;
    type Error = Error;

    async fn create(&self) -> Result<MssqlClient, Error> {
        if let Some((left, last)) = self.paused() {
            return Err(Error::unavailable(
                Backend::Mssql,
                format!(
                    "not retrying {} for another {} ms after repeated failures; last: {last}",
                    self.server,
                    left.as_millis()
                ),
            ));
        }
        match self.connect().await {
            Ok(client) => {
                self.record_success();
                Ok(client)
            }
            Err(e) => {
                self.record_failure(&e);
                Err(e)
            }
        }
    }

    async fn recycle(
        &self,
        client: &mut MssqlClient,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Error> {
        let check = Box::pin(async {
            let sets = client
                .simple_query(RECYCLE_SQL)
                .await?
                .into_results()
                .await?;
            let ok = sets
                .iter()
                .flatten()
                .any(|row| row.try_get::<i32, _>(0).ok().flatten() == Some(1));
            Ok::<_, tiberius::error::Error>(ok)
        });
        // A timeout drops `check` mid-response: the connection is then out of sync,
        // and the error makes the pool discard it.
        match tokio::time::timeout(self.connect_timeout, check).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(deadpool::managed::RecycleError::message(
                "health check returned no row",
            )),
            Ok(Err(e)) => Err(deadpool::managed::RecycleError::message(format!(
                "health check failed: {e}"
            ))),
            Err(_) => Err(deadpool::managed::RecycleError::message(
                "health check timed out",
            )),
        }
    }
}

/// Opens one connection to `tds`, following one redirect, all within `timeout`.
pub(crate) async fn connect(
    tds: &tiberius::Config,
    server: &str,
    timeout: Duration,
) -> Result<MssqlClient, Error> {
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        Error::unavailable(
            Backend::Mssql,
            format!(
                "cannot connect to {server}: no answer within {} ms",
                timeout.as_millis()
            ),
        )
    };
    let first = tokio::time::timeout_at(deadline, connect_once(tds.clone()))
        .await
        .map_err(|_| timed_out())?;
    match first {
        Ok(client) => Ok(client),
        Err(tiberius::error::Error::Routing { host, port }) => {
            tracing::debug!(%server, %host, port, "SQL Server redirected the connection");
            let mut redirected = tds.clone();
            redirected.host(&host);
            redirected.port(port);
            let target = format!("{host}:{port} (redirected from {server})");
            tokio::time::timeout_at(deadline, connect_once(redirected))
                .await
                .map_err(|_| timed_out())?
                .map_err(|e| map_connect_error(e, &target))
        }
        Err(e) => Err(map_connect_error(e, server)),
    }
}

async fn connect_once(tds: tiberius::Config) -> tiberius::Result<MssqlClient> {
    let tcp = TcpStream::connect(tds.get_addr()).await?;
    // Requests are small and latency-bound: do not let Nagle hold them back.
    tcp.set_nodelay(true)?;
    // The handshake future is large (~17 KB); boxing it keeps every future that
    // awaits a connection (pool checkouts included) small.
    Box::pin(Client::connect(tds, tcp.compat_write())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(max_backoff: Duration) -> MssqlManager {
        let mut tds = tiberius::Config::new();
        tds.host("127.0.0.1");
        tds.port(1);
        MssqlManager::new(
            tds,
            "127.0.0.1:1".into(),
            Duration::from_secs(2),
            max_backoff,
        )
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let m = manager(Duration::from_millis(350));
        let err = Error::unavailable(Backend::Mssql, "refused");
        assert!(m.paused().is_none());
        let mut pauses = Vec::new();
        for _ in 0..4 {
            m.record_failure(&err);
            let (left, last) = m.paused().expect("paused after a failure");
            assert!(last.contains("refused"));
            pauses.push(left);
        }
        assert!(pauses[0] <= Duration::from_millis(100));
        assert!(pauses[1] > Duration::from_millis(100) && pauses[1] <= Duration::from_millis(200));
        assert!(pauses[2] > Duration::from_millis(200) && pauses[2] <= Duration::from_millis(350));
        assert!(
            pauses[3] > Duration::from_millis(300),
            "capped, not shrinking"
        );
        m.record_success();
        assert!(m.paused().is_none());
        let off = manager(Duration::ZERO);
        off.record_failure(&err);
        assert!(off.paused().is_none(), "zero disables the backoff");
    }

    #[test]
    fn debug_shows_no_credentials() {
        let mut tds = tiberius::Config::new();
        tds.authentication(tiberius::AuthMethod::sql_server("sa", "Hunter2!xyz"));
        let m = MssqlManager::new(
            tds,
            "db:1433".into(),
            Duration::from_secs(1),
            Duration::ZERO,
        );
        let text = format!("{m:?}");
        assert!(
            text.contains("db:1433") && !text.contains("Hunter2"),
            "{text}"
        );
    }
}
