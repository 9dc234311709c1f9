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
        let key = (session.tenant_id, session.id.clone());
        if state.sessions.contains_key(&key) {
            return Err(Error::Conflict {
                entity: "session",
                detail: "the session id is in use".into(),
                source: None,
            });
        }
        let at = crate::time::now();
        let created = Session {
            id: session.id,
            tenant_id: session.tenant_id,
            user_id: session.user_id,
            auth_method: session.auth_method,
            created_at: at,
            expires_at: truncate_micros(session.expires_at),
            last_seen_at: at,
            revoked_at: None,
            ip: session.ip,
            user_agent: session.user_agent,
        };
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
        match state.sessions.get_mut(&(tenant, id.clone())) {
            Some(s) if s.revoked_at.is_none() => {
                s.revoked_at = Some(truncate_micros(at));
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_user(&self, tenant: TenantId, user: UserId, at: DateTime<Utc>) -> Result<u64> {
        let at = truncate_micros(at);
        let mut state = self.lock();
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
        Ok((before - state.sessions.len()) as u64)
    }

    async fn watermarks(&self, tenant: TenantId, user: UserId) -> Result<RevocationWatermarks> {
        Ok(self.lock().watermarks(tenant, user))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::AuthMethod;

    fn new_session(tenant: TenantId, user: UserId, ttl: Duration) -> NewSession {
        NewSession {
            id: SessionId::generate(),
            tenant_id: tenant,
            user_id: user,
            auth_method: AuthMethod::LocalPassword,
            expires_at: Utc::now() + ttl,
            ip: None,
            user_agent: None,
        }
    }

    #[tokio::test]
    async fn revocation_is_final_and_scoped() {
        let store = MemoryStore::new();
        let (a, b) = (TenantId::new(), TenantId::new());
        let user = UserId::new();
        let s1 = store
            .create(new_session(a, user, Duration::hours(1)))
            .await
            .unwrap();
        let s2 = store
            .create(new_session(b, user, Duration::hours(1)))
            .await
            .unwrap();
        assert!(store.revoke(a, &s1.id, Utc::now()).await.unwrap());
        assert!(
            !store.revoke(a, &s1.id, Utc::now()).await.unwrap(),
            "already revoked"
        );
        store.touch(a, &s1.id, Utc::now()).await.unwrap();
        assert!(
            store
                .get(a, &s1.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        assert!(
            store.get(a, &s2.id).await.unwrap().is_none(),
            "other tenant's session"
        );
        assert_eq!(store.revoke_tenant(b, Utc::now()).await.unwrap(), 1);
        assert!(
            store
                .watermarks(b, user)
                .await
                .unwrap()
                .tenant_not_before
                .is_some()
        );
        assert!(
            store
                .watermarks(a, user)
                .await
                .unwrap()
                .tenant_not_before
                .is_none()
        );
    }

    #[tokio::test]
    async fn lists_active_and_purges_expired() {
        let store = MemoryStore::new();
        let tenant = TenantId::new();
        let user = UserId::new();
        store
            .create(new_session(tenant, user, Duration::hours(1)))
            .await
            .unwrap();
        store
            .create(new_session(tenant, user, Duration::seconds(-1)))
            .await
            .unwrap();
        assert_eq!(
            store
                .list_active(tenant, user, Utc::now())
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.purge_expired(Utc::now()).await.unwrap(), 1);
        assert_eq!(
            store.revoke_user(tenant, user, Utc::now()).await.unwrap(),
            1
        );
        assert!(
            store
                .list_active(tenant, user, Utc::now())
                .await
                .unwrap()
                .is_empty()
        );
    }
}
