use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    IssuedRefreshToken, RefreshOutcome, RefreshToken, Result, SessionId, TenantId, UserId,
};

/// Refresh tokens: opaque, stored hashed, rotated on every use, revoked as a family on
/// reuse.
#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    /// Starts a new family for a session (at sign-in).
    async fn issue_refresh(
        &self,
        tenant: TenantId,
        session: &SessionId,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedRefreshToken>;

    /// Uses `token` once: on success it is marked used and its successor (same family,
    /// same session) expires at `next_expires_at`. Of several concurrent uses of one
    /// token exactly one rotates; the others see a reuse, which revokes the family and
    /// the session.
    async fn rotate_refresh(
        &self,
        token: &RefreshToken,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
    ) -> Result<RefreshOutcome>;
}
