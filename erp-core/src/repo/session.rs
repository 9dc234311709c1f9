use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{NewSession, Result, RevocationWatermarks, Session, SessionId, TenantId, UserId};

/// Sessions and revocation marks, scoped by tenant.
///
/// Implementations must make revocation final: nothing but [`SessionStore::create`] writes
/// a session row, so a concurrent request can never bring back a session that a logout
/// just revoked.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Opens a session; an id already in use is [`Error::Conflict`](crate::Error::Conflict).
    async fn create(&self, session: NewSession) -> Result<Session>;
    /// Loads a session, revoked or not.
    async fn get(&self, tenant: TenantId, id: &SessionId) -> Result<Option<Session>>;
    /// Records activity. Update-only: touching a revoked or missing session changes nothing.
    async fn touch(&self, tenant: TenantId, id: &SessionId, at: DateTime<Utc>) -> Result<()>;
    /// Revokes one session; returns whether it was active before.
    async fn revoke(&self, tenant: TenantId, id: &SessionId, at: DateTime<Utc>) -> Result<bool>;
    /// Revokes every session of a user and raises the user's watermark to `at`;
    /// returns the number of sessions revoked.
    async fn revoke_user(&self, tenant: TenantId, user: UserId, at: DateTime<Utc>) -> Result<u64>;
    /// Revokes every session of a tenant and raises the tenant's watermark to `at`
    /// (emergency lock-down); returns the number of sessions revoked.
    async fn revoke_tenant(&self, tenant: TenantId, at: DateTime<Utc>) -> Result<u64>;
    /// A user's sessions that are active at `now`, newest first.
    async fn list_active(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>>;
    /// Deletes sessions that expired before `now` in every tenant; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64>;
    /// The user's and the tenant's revocation watermarks.
    async fn watermarks(&self, tenant: TenantId, user: UserId) -> Result<RevocationWatermarks>;
}
