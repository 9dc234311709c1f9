use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Result, TenantId, UserId};

/// Access tokens of an identity provider (Entra ID) refused before their expiry, by
/// token id (`uti`, else `jti`).
///
/// Such tokens are not sessions of ours: the provider keeps them valid until they expire.
/// Signing out records the token here so that every instance refuses it from then on;
/// implementations publish a [`RevocationEvent::Token`](crate::RevocationEvent::Token)
/// through the same feed as session revocations.
#[async_trait]
pub trait TokenRevocationStore: Send + Sync {
    /// Refuses `token_id` of `user` until `expires_at`; returns whether it was new.
    /// Ids that are not [`is_token_id`](crate::is_token_id) are
    /// [`Error::InvalidInput`](crate::Error::InvalidInput).
    async fn revoke_token(
        &self,
        tenant: TenantId,
        token_id: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// True if `token_id` was revoked (and not purged yet).
    async fn is_token_revoked(&self, tenant: TenantId, token_id: &str) -> Result<bool>;
    /// Forgets revocations of tokens that expired before `now` (they are refused as
    /// expired anyway); returns how many.
    async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64>;
}
