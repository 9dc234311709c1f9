use std::{
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use erp_core::{RevocationEvent, TenantId, TokenRevocationStore, UserId, is_token_id};
use tokio::time::Instant;

use super::lookup_map::LookupMap;

use crate::AuthError;

#[derive(Debug, Clone, Copy)]
struct Entry {
    revoked: bool,
    loaded_at: Instant,
}

/// By tenant, then token id: a lookup borrows the token's `&str`, no allocation.
type Entries = LookupMap<TenantId, LookupMap<String, Entry>>;

struct Inner {
    store: Arc<dyn TokenRevocationStore>,
    entries: RwLock<Entries>,
    /// Bumped by every invalidation; a refill that raced one is dropped (as in the
    /// session guard's cache).
    generation: AtomicU64,
    entry_ttl: Duration,
    max_entries: usize,
}

/// Refuses identity-provider access tokens (Entra ID) revoked before their expiry, by
/// token id (`uti`), from an in-process cache.
///
/// A token id is read from the [`TokenRevocationStore`] once per entry TTL (default
/// 5 min, the session guard's); revocations made here apply at once, those of other
/// instances as soon as their [`RevocationEvent::Token`] arrives through the same
/// feed as session revocations ([`Authenticator::follow`](crate::Authenticator::follow)).
/// A store that cannot answer refuses the request (503): fail closed.
#[derive(Clone)]
pub struct TokenRevocationGuard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenRevocationGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRevocationGuard")
            .field("entries", &self.len())
            .field("entry_ttl", &self.inner.entry_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenRevocationGuard {
    /// A guard over `store` with a 5-minute entry TTL and at most 100 000 entries.
    pub fn new(store: Arc<dyn TokenRevocationStore>) -> Self {
        Self::build(store, Duration::from_secs(300), 100_000)
    }

    fn build(store: Arc<dyn TokenRevocationStore>, entry_ttl: Duration, max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                entries: RwLock::new(LookupMap::default()),
                generation: AtomicU64::new(0),
                entry_ttl,
                max_entries: max.max(1),
            }),
        }
    }

    /// How long a "not revoked" answer is trusted without a notification (default 5 min).
    /// Call before cloning the guard into services.
    pub fn with_entry_ttl(self, ttl: Duration) -> Self {
        Self::build(Arc::clone(&self.inner.store), ttl, self.inner.max_entries)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.inner.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.inner
            .entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn len(&self) -> usize {
        self.read().values().map(LookupMap::len).sum()
    }

    fn insert(&self, seen: Option<u64>, tenant: TenantId, id: &str, revoked: bool) {
        let mut entries = self.write();
        if seen.is_some_and(|g| g != self.inner.generation.load(Ordering::Acquire)) {
            return;
        }
        if entries.values().map(LookupMap::len).sum::<usize>() >= self.inner.max_entries {
            // Rare, and safe: revoked ids reload from the store.
            entries.clear();
        }
        entries.entry(tenant).or_default().insert(
            id.to_owned(),
            Entry {
                revoked,
                loaded_at: Instant::now(),
            },
        );
    }

    /// Refuses `token_id` if it was revoked. Ids no store could hold (not
    /// [`is_token_id`]) cannot have been revoked and pass.
    pub async fn check(&self, tenant: TenantId, token_id: &str) -> Result<(), AuthError> {
        self.check_at(tenant, token_id, Instant::now()).await
    }

    /// [`TokenRevocationGuard::check`] with the caller's clock reading (one per request).
    pub(crate) async fn check_at(
        &self,
        tenant: TenantId,
        token_id: &str,
        now: Instant,
    ) -> Result<(), AuthError> {
        if let Some(verdict) = self.check_cached(tenant, token_id, now) {
            return verdict;
        }
        let seen = self.inner.generation.load(Ordering::Acquire);
        let revoked = self
            .inner
            .store
            .is_token_revoked(tenant, token_id)
            .await
            .map_err(AuthError::StoreUnavailable)?;
        self.insert(Some(seen), tenant, token_id, revoked);
        verdict(revoked)
    }

    /// The verdict from a fresh cache entry (or a revoked one: a revocation is final);
    /// `None` when the store must be asked.
    pub(crate) fn check_cached(
        &self,
        tenant: TenantId,
        token_id: &str,
        now: Instant,
    ) -> Option<Result<(), AuthError>> {
        if !is_token_id(token_id) {
            return Some(Ok(()));
        }
        let cached = self
            .read()
            .get(&tenant)
            .and_then(|m| m.get(token_id))
            .copied()?;
        (cached.revoked || now.saturating_duration_since(cached.loaded_at) <= self.inner.entry_ttl)
            .then(|| verdict(cached.revoked))
    }

    /// Revokes `token_id` of `user` until `expires_at`, here at once and elsewhere
    /// through the store's notification. Returns whether it was new.
    pub async fn revoke(
        &self,
        tenant: TenantId,
        token_id: &str,
        user: UserId,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, AuthError> {
        let new = self
            .inner
            .store
            .revoke_token(tenant, token_id, user, expires_at, Utc::now())
            .await?;
        self.invalidate(&RevocationEvent::Token(tenant, token_id.to_owned()));
        Ok(new)
    }

    /// Applies one revocation event: a revoked token is refused from now on; `All`
    /// (events may have been lost) drops everything.
    pub fn invalidate(&self, event: &RevocationEvent) {
        match event {
            RevocationEvent::Token(t, id) => {
                self.inner.generation.fetch_add(1, Ordering::AcqRel);
                // Revocation is final: remembering it needs no store read.
                self.insert(None, *t, id, true);
            }
            RevocationEvent::All => {
                let mut entries = self.write();
                self.inner.generation.fetch_add(1, Ordering::AcqRel);
                entries.clear();
            }
            // Sessions, users and tenants: the session guard's watermarks.
            RevocationEvent::Session(..)
            | RevocationEvent::User(..)
            | RevocationEvent::Tenant(_) => {}
        }
    }
}

/// Deletes revocations of expired tokens every `interval` until the task is aborted.
pub fn spawn_token_purger(
    store: Arc<dyn TokenRevocationStore>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    crate::purge::spawn_purge_loop(interval, "revocations of tokens", move |now| {
        let store = store.clone();
        async move { store.purge_expired_tokens(now).await }
    })
}

fn verdict(revoked: bool) -> Result<(), AuthError> {
    if revoked {
        Err(AuthError::SessionRevoked)
    } else {
        Ok(())
    }
}
