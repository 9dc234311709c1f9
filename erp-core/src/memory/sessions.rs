use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::{
    Error, NewSession, Result, RevocationWatermarks, Session, SessionId, SessionStore, TenantId,
    UserId, time::truncate_micros,
};

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, session: NewSession) -> Result<Session> {
        let mut state = self.lock();
        if state
            .users
            .get(&session.user_id)
            .is_none_or(|u| u.tenant_id != session.tenant_id)
        {
            return Err(Error::NotFound { entity: "user" });
        }
        let key = (session.tenant_id, session.id.clone());
        if state.sessions.contains_key(&key) {
            return Err(Error::Conflict {
                entity: "session",
                detail: "the session id is in use".into(),
                source: None,
            });
        }
        let at = crate::time::now();
        let created = session.open_at(at);
        state.sessions.insert(key, created.clone());
        Ok(created)
    }

    async fn get(&self, tenant: TenantId, id: &SessionId) -> Result<Option<Session>> {
        Ok(self.lock().sessions.get(&(tenant, id.clone())).cloned())
    }

    async fn touch(&self, tenant: TenantId, id: &SessionId, at: DateTime<Utc>) -> Result<()> {
        if let Some(s) = self.lock().sessions.get_mut(&(tenant, id.clone()))
            && s.revoked_at.is_none()
        {
            s.last_seen_at = truncate_micros(at);
        }
        Ok(())
    }

    async fn revoke(&self, tenant: TenantId, id: &SessionId, at: DateTime<Utc>) -> Result<bool> {
        let mut state = self.lock();
        let at = truncate_micros(at);
        for r in state.refresh.values_mut() {
            if r.tenant == tenant && r.session == *id && r.revoked_at.is_none() {
                r.revoked_at = Some(at);
            }
        }
        match state.sessions.get_mut(&(tenant, id.clone())) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_user(&self, tenant: TenantId, user: UserId, at: DateTime<Utc>) -> Result<u64> {
        let at = truncate_micros(at);
        let mut state = self.lock();
        if state.users.get(&user).is_none_or(|u| u.tenant_id != tenant) {
            return Err(Error::NotFound { entity: "user" });
        }
        for r in state.refresh.values_mut() {
            if r.tenant == tenant && r.user == user && r.revoked_at.is_none() {
                r.revoked_at = Some(at);
            }
        }
        let mark = state.user_marks.entry((tenant, user)).or_insert(at);
        *mark = (*mark).max(at);
        let mut n = 0;
        for s in state.sessions.values_mut() {
            if s.tenant_id == tenant && s.user_id == user && s.revoked_at.is_none() {
                s.revoked_at = Some(at);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn revoke_tenant(&self, tenant: TenantId, at: DateTime<Utc>) -> Result<u64> {
        let at = truncate_micros(at);
        let mut state = self.lock();
        if !state.tenants.contains_key(&tenant) {
            return Err(Error::NotFound { entity: "tenant" });
        }
        for r in state.refresh.values_mut() {
            if r.tenant == tenant && r.revoked_at.is_none() {
                r.revoked_at = Some(at);
            }
        }
        let mark = state.tenant_marks.entry(tenant).or_insert(at);
        *mark = (*mark).max(at);
        let mut n = 0;
        for s in state.sessions.values_mut() {
            if s.tenant_id == tenant && s.revoked_at.is_none() {
                s.revoked_at = Some(at);
                n += 1;
            }
        }
        Ok(n)
    }

    async fn list_active(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>> {
        let mut out: Vec<Session> = self
            .lock()
            .sessions
            .values()
            .filter(|s| s.tenant_id == tenant && s.user_id == user && s.is_active_at(now))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.lock();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.expires_at >= now);
        let purged = (before - state.sessions.len()) as u64;
        let live: std::collections::HashSet<(TenantId, SessionId)> =
            state.sessions.keys().cloned().collect();
        state
            .refresh
            .retain(|_, r| live.contains(&(r.tenant, r.session.clone())));
        Ok(purged)
    }

    async fn watermarks(&self, tenant: TenantId, user: UserId) -> Result<RevocationWatermarks> {
        Ok(self.lock().watermarks(tenant, user))
    }
}
