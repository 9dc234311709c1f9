use async_trait::async_trait;

use crate::RevocationEvent;

/// A second way out for revocations, beside the database's own notification (PostgreSQL
/// `NOTIFY`): a bus that instances behind a pooler without `LISTEN` (PgBouncer in
/// transaction mode) can follow, such as Redis pub/sub.
///
/// Stores call it after the revocation has committed, never before: a subscriber that
/// drops its cache on the event must find the revoked row when it reloads.
#[async_trait]
pub trait RevocationPublisher: Send + Sync + std::fmt::Debug {
    /// Publishes `event`. It cannot fail the revocation, which has committed already:
    /// an implementation that cannot deliver retries, logs and counts it by itself.
    async fn publish(&self, event: &RevocationEvent);
}
