use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

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
    /// token exactly one rotates.
    ///
    /// A used token presented again is a reuse, which revokes the family and the session
    /// ([`RefreshOutcome::Reused`]), except when it is the family's most recently used
    /// token and was used less than `reuse_interval` before `now`: two tabs or a client
    /// retry racing one refresh, not a thief. That replay gets a fresh token of the same
    /// family and session ([`RefreshOutcome::Reissued`]); the grace counts from the first
    /// use and never slides. A zero `reuse_interval` is strict: every replay is a reuse.
    async fn rotate_refresh(
        &self,
        token: &RefreshToken,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        reuse_interval: Duration,
    ) -> Result<RefreshOutcome>;
}
