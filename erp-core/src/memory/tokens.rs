use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::{Error, Result, TenantId, TokenRevocationStore, UserId, is_token_id};

fn checked(token_id: &str) -> Result<&str> {
    if is_token_id(token_id) {
        Ok(token_id)
    } else {
        Err(Error::invalid(
            "token id",
            "1 to 128 characters of A-Z a-z 0-9 - _ .",
        ))
    }
}

#[async_trait]
impl TokenRevocationStore for MemoryStore {
    async fn revoke_token(
        &self,
        tenant: TenantId,
        token_id: &str,
        _user: UserId,
        expires_at: DateTime<Utc>,
        _at: DateTime<Utc>,
    ) -> Result<bool> {
        let key = (tenant, checked(token_id)?.to_owned());
        let mut state = self.lock();
        if !state.tenants.contains_key(&tenant) {
            return Err(Error::NotFound { entity: "tenant" });
        }
        if state.revoked_tokens.contains_key(&key) {
            return Ok(false);
        }
        state.revoked_tokens.insert(key, expires_at);
        Ok(true)
    }

    async fn is_token_revoked(&self, tenant: TenantId, token_id: &str) -> Result<bool> {
        let key = (tenant, checked(token_id)?.to_owned());
        Ok(self.lock().revoked_tokens.contains_key(&key))
    }

    async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.lock();
        let before = state.revoked_tokens.len();
        state.revoked_tokens.retain(|_, exp| *exp >= now);
        Ok((before - state.revoked_tokens.len()) as u64)
    }
}
