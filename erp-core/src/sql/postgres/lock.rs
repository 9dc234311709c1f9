//! Session-level advisory locks: one holder in a cluster of instances sharing a
//! database, released when the holder lets go or its connection ends (a crashed
//! instance cannot keep it).

use deadpool_postgres::Object;

use super::{
    PgExecutor,
    error::{map_pg_error, map_pool_error},
};
use crate::Result;

/// A session-level advisory lock held on a pooled connection of its own. Dropped
/// without [`AdvisoryLock::release`], the connection is closed rather than returned to
/// the pool, which releases the lock too.
#[derive(Debug)]
pub struct AdvisoryLock {
    client: Option<Object>,
    key: String,
}

impl PgExecutor {
    /// Takes the advisory lock named `key` if no session holds it; `None` when one
    /// does. The name is hashed (`hashtext`), so any text works; include the schema
    /// when several deployments share a database.
    pub async fn try_advisory_lock(&self, key: &str) -> Result<Option<AdvisoryLock>> {
        let client = self.pool().get().await.map_err(map_pool_error)?;
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtext($1)) AS taken",
                &[&key],
            )
            .await
            .map_err(map_pg_error)?;
        let taken: bool = row.get("taken");
        Ok(taken.then(|| AdvisoryLock {
            client: Some(client),
            key: key.to_owned(),
        }))
    }
}

impl AdvisoryLock {
    /// The lock's name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Releases the lock and returns its connection to the pool.
    pub async fn release(mut self) -> Result<()> {
        if let Some(client) = self.client.take() {
            let unlocked = client
                .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&self.key])
                .await;
            if let Err(e) = unlocked {
                // The session may still hold it: end the session, not the pool slot.
                drop(Object::take(client));
                return Err(map_pg_error(e));
            }
        }
        Ok(())
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Closing the session is the one way to release it without awaiting.
            drop(Object::take(client));
        }
    }
}
