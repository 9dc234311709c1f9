use rusqlite::{Connection, OpenFlags};

use super::SqliteConfig;

/// Opens and checks pooled SQLite connections.
#[derive(Debug)]
pub(super) struct SqliteManager {
    pub(super) config: SqliteConfig,
}

impl SqliteManager {
    fn open(config: &SqliteConfig) -> rusqlite::Result<Connection> {
        let conn = match &config.path {
            Some(path) => Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
            None => Connection::open_in_memory()?,
        };
        conn.busy_timeout(config.busy_timeout)?;
        // WAL lets readers run beside the writer; NORMAL sync is durable in WAL mode
        // except for the last transactions on power loss, the usual trade for an
        // embedded development database.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
}

impl deadpool::managed::Manager for SqliteManager {
    type Type = Connection;
    type Error = rusqlite::Error;

    async fn create(&self) -> Result<Connection, rusqlite::Error> {
        let config = self.config.clone();
        tokio::task::spawn_blocking(move || Self::open(&config))
            .await
            .map_err(|e| {
                rusqlite::Error::ToSqlConversionFailure(format!("opening task failed: {e}").into())
            })?
    }

    async fn recycle(
        &self,
        conn: &mut Connection,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<rusqlite::Error> {
        // A call that failed mid-transaction must not hand its transaction on.
        if conn.is_autocommit() {
            Ok(())
        } else {
            Err(deadpool::managed::RecycleError::message(
                "connection left inside a transaction",
            ))
        }
    }
}
