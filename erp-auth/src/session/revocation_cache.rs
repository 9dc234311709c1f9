use std::sync::{
    RwLock,
    atomic::{AtomicU64, Ordering},
};

use chrono::{DateTime, Utc};
use erp_core::{RevocationEvent, Session, SessionId, TenantId, UserId};
use tokio::time::Instant;

use super::lookup_map::LookupMap;

/// What the request path needs to know about a session.
#[derive(Debug, Clone)]
pub(crate) struct SessionEntry {
    pub(crate) user_id: UserId,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) revoked: bool,
    pub(crate) loaded_at: Instant,
}

impl SessionEntry {
    pub(crate) fn from_session(s: &Session) -> Self {
        Self {
            user_id: s.user_id,
            created_at: s.created_at,
            expires_at: s.expires_at,
            revoked: s.revoked_at.is_some(),
            loaded_at: Instant::now(),
        }
    }
}

/// A cached watermark (`None`: the store has none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MarkEntry {
    pub(crate) not_before: Option<DateTime<Utc>>,
    pub(crate) loaded_at: Instant,
}

#[derive(Default)]
struct Maps {
    sessions: LookupMap<(TenantId, SessionId), SessionEntry>,
    users: LookupMap<(TenantId, UserId), MarkEntry>,
    tenants: LookupMap<TenantId, MarkEntry>,
}

/// Sessions and watermarks by key, with a generation counter that every invalidation
/// bumps. A refill records the generation before reading the store and is kept only if
/// no invalidation happened meanwhile: a load that raced a revocation can never put the
/// pre-revocation state back.
pub(crate) struct RevocationCache {
    maps: RwLock<Maps>,
    generation: AtomicU64,
    max_entries: usize,
}

impl RevocationCache {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            maps: RwLock::new(Maps::default()),
            generation: AtomicU64::new(0),
            max_entries,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn session(&self, tenant: TenantId, id: &SessionId) -> Option<SessionEntry> {
        self.read().sessions.get(&(tenant, id.clone())).cloned()
    }

    pub(crate) fn user_mark(&self, tenant: TenantId, user: UserId) -> Option<MarkEntry> {
        self.read().users.get(&(tenant, user)).copied()
    }

    pub(crate) fn tenant_mark(&self, tenant: TenantId) -> Option<MarkEntry> {
        self.read().tenants.get(&tenant).copied()
    }

    /// Runs `f` on the maps if the generation is still `seen`.
    fn fill(&self, seen: u64, f: impl FnOnce(&mut Maps)) {
        let mut maps = self.write();
        // Checked under the write lock: invalidations also take it, so none can slip in
        // between the check and the insert.
        if self.generation.load(Ordering::Acquire) != seen {
            return;
        }
        let len = maps.sessions.len() + maps.users.len() + maps.tenants.len();
        if len >= self.max_entries {
            // Rare, and always safe: everything reloads from the store.
            *maps = Maps::default();
        }
        f(&mut maps);
    }

    pub(crate) fn fill_session(
        &self,
        seen: u64,
        tenant: TenantId,
        id: SessionId,
        entry: SessionEntry,
    ) {
        self.fill(seen, |m| {
            m.sessions.insert((tenant, id), entry);
        });
    }

    pub(crate) fn fill_user_mark(
        &self,
        seen: u64,
        tenant: TenantId,
        user: UserId,
        entry: MarkEntry,
    ) {
        self.fill(seen, |m| {
            m.users.insert((tenant, user), entry);
        });
    }

    pub(crate) fn fill_tenant_mark(&self, seen: u64, tenant: TenantId, entry: MarkEntry) {
        self.fill(seen, |m| {
            m.tenants.insert(tenant, entry);
        });
    }

    /// Drops what `event` makes stale.
    pub(crate) fn apply(&self, event: &RevocationEvent) {
        let mut maps = self.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        match event {
            RevocationEvent::Session(t, s) => {
                maps.sessions.remove(&(*t, s.clone()));
            }
            RevocationEvent::User(t, u) => {
                maps.users.remove(&(*t, *u));
                maps.sessions
                    .retain(|(tenant, _), e| !(tenant == t && e.user_id == *u));
            }
            RevocationEvent::Tenant(t) => {
                maps.tenants.remove(t);
                maps.users.retain(|(tenant, _), _| tenant != t);
                maps.sessions.retain(|(tenant, _), _| tenant != t);
            }
            RevocationEvent::All => *maps = Maps::default(),
            // Provider tokens are the token guard's.
            RevocationEvent::Token(..) => {}
        }
    }

    pub(crate) fn len(&self) -> usize {
        let maps = self.read();
        maps.sessions.len() + maps.users.len() + maps.tenants.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(user: UserId) -> SessionEntry {
        SessionEntry {
            user_id: user,
            created_at: Utc::now(),
            expires_at: Utc::now(),
            revoked: false,
            loaded_at: Instant::now(),
        }
    }

    #[test]
    fn a_refill_that_raced_an_invalidation_is_dropped() {
        let cache = RevocationCache::new(100);
        let (t, s, u) = (TenantId::new(), SessionId::generate(), UserId::new());
        let seen = cache.generation();
        cache.apply(&RevocationEvent::Session(t, s.clone()));
        cache.fill_session(seen, t, s.clone(), entry(u));
        assert!(cache.session(t, &s).is_none(), "stale refill kept");
        cache.fill_session(cache.generation(), t, s.clone(), entry(u));
        assert!(cache.session(t, &s).is_some());
    }

    #[test]
    fn events_drop_the_right_entries() {
        let cache = RevocationCache::new(100);
        let (a, b) = (TenantId::new(), TenantId::new());
        let (u1, u2) = (UserId::new(), UserId::new());
        let (s1, s2, s3) = (
            SessionId::generate(),
            SessionId::generate(),
            SessionId::generate(),
        );
        let g = cache.generation();
        cache.fill_session(g, a, s1.clone(), entry(u1));
        cache.fill_session(g, a, s2.clone(), entry(u2));
        cache.fill_session(g, b, s3.clone(), entry(u1));
        cache.apply(&RevocationEvent::User(a, u1));
        assert!(cache.session(a, &s1).is_none());
        assert!(cache.session(a, &s2).is_some());
        assert!(
            cache.session(b, &s3).is_some(),
            "same user id in another tenant untouched"
        );
        cache.apply(&RevocationEvent::Tenant(a));
        assert!(cache.session(a, &s2).is_none());
        assert!(cache.session(b, &s3).is_some());
        cache.apply(&RevocationEvent::All);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = RevocationCache::new(10);
        for _ in 0..25 {
            cache.fill_session(
                cache.generation(),
                TenantId::new(),
                SessionId::generate(),
                entry(UserId::new()),
            );
        }
        assert!(cache.len() <= 10);
    }
}
