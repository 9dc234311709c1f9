use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, RefreshRow};
use crate::{
    Error, IssuedRefreshToken, RefreshOutcome, RefreshToken, RefreshTokenStore, Result, SessionId,
    TenantId, UserId, model::within_reuse_interval, time::truncate_micros,
};

impl MemoryStore {
    fn insert_refresh(
        &self,
        tenant: TenantId,
        family: String,
        session: &SessionId,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedRefreshToken> {
        let mut state = self.lock();
        if !state.sessions.contains_key(&(tenant, session.clone())) {
            return Err(Error::NotFound { entity: "session" });
        }
        let token = RefreshToken::generate(tenant);
        let expires_at = truncate_micros(expires_at);
        state.refresh.insert(
            token.hash(),
            RefreshRow {
                tenant,
                family: family.clone(),
                session: session.clone(),
                user,
                expires_at,
                used_at: None,
                revoked_at: None,
            },
        );
        Ok(IssuedRefreshToken {
            token,
            family_id: family,
            session_id: session.clone(),
            user_id: user,
            expires_at,
        })
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
    async fn issue_refresh(
        &self,
        tenant: TenantId,
        session: &SessionId,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<IssuedRefreshToken> {
        self.insert_refresh(
            tenant,
            SessionId::generate().to_string(),
            session,
            user,
            expires_at,
        )
    }

    async fn rotate_refresh(
        &self,
        token: &RefreshToken,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        reuse_interval: chrono::Duration,
    ) -> Result<RefreshOutcome> {
        let now = truncate_micros(now);
        let tenant = token.tenant();
        let claimed = {
            let mut state = self.lock();
            let Some(row) = state
                .refresh
                .get(&token.hash())
                .filter(|r| r.tenant == tenant)
                .cloned()
            else {
                return Ok(RefreshOutcome::Invalid);
            };
            if row.revoked_at.is_some() {
                return Ok(RefreshOutcome::Invalid);
            }
            if let Some(used_at) = row.used_at {
                let latest = !state.refresh.values().any(|r| {
                    r.tenant == tenant
                        && r.family == row.family
                        && r.used_at.is_some_and(|u| u > used_at)
                });
                let active = state
                    .sessions
                    .get(&(tenant, row.session.clone()))
                    .is_some_and(|s| s.is_active_at(now));
                if latest && active && within_reuse_interval(used_at, now, reuse_interval) {
                    drop(state);
                    return self
                        .insert_refresh(tenant, row.family, &row.session, row.user, next_expires_at)
                        .map(RefreshOutcome::Reissued);
                }
                for r in state.refresh.values_mut() {
                    if r.tenant == tenant && r.family == row.family && r.revoked_at.is_none() {
                        r.revoked_at = Some(now);
                    }
                }
                if let Some(s) = state.sessions.get_mut(&(tenant, row.session.clone()))
                    && s.revoked_at.is_none()
                {
                    s.revoked_at = Some(now);
                }
                return Ok(RefreshOutcome::Reused {
                    session_id: row.session,
                    user_id: row.user,
                });
            }
            if row.expires_at <= now {
                return Ok(RefreshOutcome::Expired);
            }
            if let Some(r) = state.refresh.get_mut(&token.hash()) {
                r.used_at = Some(now);
            }
            let active = state
                .sessions
                .get(&(tenant, row.session.clone()))
                .is_some_and(|s| s.is_active_at(now));
            if !active {
                return Ok(RefreshOutcome::Invalid);
            }
            row
        };
        self.insert_refresh(
            tenant,
            claimed.family,
            &claimed.session,
            claimed.user,
            next_expires_at,
        )
        .map(RefreshOutcome::Rotated)
    }
}
