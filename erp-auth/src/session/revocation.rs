use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use erp_core::{FeedStatus, Principal, RevocationEvent, SessionId, SessionStore, TenantId, UserId};
use tokio::{sync::broadcast, time::Instant};

use super::{
    SessionGuardConfig,
    revocation_cache::{MarkEntry, RevocationCache, SessionEntry},
};
use crate::AuthError;

/// Counters of the guard.
#[derive(Debug, Default)]
pub struct SessionGuardStats {
    /// Checks answered from the cache alone.
    pub hits: AtomicU64,
    /// Store reads caused by cache misses.
    pub loads: AtomicU64,
    /// Refusals because of a revocation, an expiry or a watermark.
    pub revoked: AtomicU64,
    /// Revocation events applied.
    pub invalidations: AtomicU64,
}

struct Inner {
    store: Arc<dyn SessionStore>,
    cache: RevocationCache,
    config: SessionGuardConfig,
    last_touch: std::sync::Mutex<std::collections::HashMap<(TenantId, SessionId), Instant>>,
    stats: SessionGuardStats,
}

/// Checks on every request that the principal's session, user and tenant are not
/// revoked, from an in-process cache.
///
/// Entries are loaded once from the [`SessionStore`] and dropped when a
/// [`RevocationEvent`] says so: revocations made through this guard apply at once here,
/// and [`SessionGuard::follow`] applies those of other instances (PostgreSQL `NOTIFY`).
/// Entries also expire after a TTL (default 5 min), a bound on staleness should a
/// notification ever be lost without a reconnect.
///
/// When the store cannot answer, the request is refused with 503 unless a grace period
/// was configured ([`SessionGuard::with_grace_period`]): then a cached answer younger
/// than TTL + grace is used.
#[derive(Clone)]
pub struct SessionGuard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionGuard")
            .field("entries", &self.inner.cache.len())
            .field("entry_ttl", &self.inner.config.entry_ttl())
            .field("grace", &self.inner.config.grace_period())
            .field("stats", &self.inner.stats)
            .finish()
    }
}

/// `ceil` to whole seconds: JWT `iat` has second precision, so a watermark inside second
/// S must revoke tokens issued in S (issued before or after it within that second).
fn ceil_seconds(t: DateTime<Utc>) -> i64 {
    let secs = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

impl SessionGuard {
    /// A guard over `store` with the default [`SessionGuardConfig`]: a 5-minute entry
    /// TTL, 60-second touch throttle and no grace period.
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self::with_config(store, SessionGuardConfig::default())
    }

    /// A guard over `store` configured by `config`.
    pub fn with_config(store: Arc<dyn SessionStore>, config: SessionGuardConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                cache: RevocationCache::new(config.max_entries()),
                config,
                last_touch: std::sync::Mutex::new(std::collections::HashMap::new()),
                stats: SessionGuardStats::default(),
            }),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &SessionGuardConfig {
        &self.inner.config
    }

    // The `with_*` settings build a fresh guard (empty cache, zero counters): call them
    // before `follow` and before cloning the guard into services.
    fn reconfigure(&self, f: impl FnOnce(SessionGuardConfig) -> SessionGuardConfig) -> Self {
        Self::with_config(Arc::clone(&self.inner.store), f(self.inner.config.clone()))
    }

    /// See [`SessionGuardConfig::with_entry_ttl`].
    pub fn with_entry_ttl(self, ttl: Duration) -> Self {
        self.reconfigure(|c| c.with_entry_ttl(ttl))
    }

    /// See [`SessionGuardConfig::with_touch_interval`].
    pub fn with_touch_interval(self, interval: Duration) -> Self {
        self.reconfigure(|c| c.with_touch_interval(interval))
    }

    /// See [`SessionGuardConfig::with_grace_period`].
    pub fn with_grace_period(self, grace: Option<Duration>) -> Self {
        self.reconfigure(|c| c.with_grace_period(grace))
    }

    /// See [`SessionGuardConfig::with_max_entries`].
    pub fn with_max_entries(self, max: usize) -> Self {
        self.reconfigure(|c| c.with_max_entries(max))
    }

    /// See [`SessionGuardConfig::with_revocation_feed`]: called once per feed.
    pub fn with_revocation_feed(self, feed: Arc<FeedStatus>, max_staleness: Duration) -> Self {
        self.reconfigure(|c| c.with_revocation_feed(feed, max_staleness))
    }

    /// The followed feeds and the staleness bound, when a feed was given.
    pub fn revocation_feeds(&self) -> Option<(&[Arc<FeedStatus>], Duration)> {
        self.inner.config.revocation_feeds()
    }

    /// Whether a cached answer of this age may be trusted as far as the feeds go.
    fn feed_covers(&self, loaded_at: Instant, now: Instant) -> bool {
        match self.inner.config.revocation_feeds() {
            None => true,
            Some((feeds, bound)) => {
                feeds.iter().any(|f| f.is_fresh(bound))
                    || now.saturating_duration_since(loaded_at) <= bound
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> &SessionGuardStats {
        &self.inner.stats
    }

    /// The store behind the guard.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// Applies revocation events from other instances until the sender closes. A lagging
    /// receiver (events lost) drops the whole cache.
    pub fn follow(&self, events: broadcast::Receiver<RevocationEvent>) {
        spawn_follower(Arc::downgrade(&self.inner), events, |inner, event| {
            inner.cache.apply(event);
            inner.stats.invalidations.fetch_add(1, Ordering::Relaxed);
        });
    }

    /// Applies one revocation event to this instance's cache.
    pub fn invalidate(&self, event: &RevocationEvent) {
        self.inner.cache.apply(event);
        self.inner
            .stats
            .invalidations
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Refuses the principal if its session, user or tenant was revoked.
    pub async fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        self.check_at(principal, Instant::now()).await
    }

    /// [`SessionGuard::check`] with the caller's clock reading (one per request).
    pub(crate) async fn check_at(
        &self,
        principal: &Principal,
        now: Instant,
    ) -> Result<(), AuthError> {
        // Nearly every request is answered from the cache. Answered without an await,
        // the check adds nothing to its caller's future (the store loads are boxed).
        if let Some(verdict) = self.check_cached(principal, now) {
            return verdict;
        }
        Box::pin(self.check_loading(principal)).await
    }

    /// The verdict from fresh cache entries alone; `None` when one is missing or stale.
    pub(crate) fn check_cached(
        &self,
        principal: &Principal,
        now: Instant,
    ) -> Option<Result<(), AuthError>> {
        let tenant = principal.tenant_id;
        let cache = &self.inner.cache;
        let user_mark = cache
            .user_mark(tenant, principal.user_id)
            .filter(|e| self.fresh_at(e.loaded_at, now))?;
        let tenant_mark = cache
            .tenant_mark(tenant)
            .filter(|e| self.fresh_at(e.loaded_at, now))?;
        let session = match &principal.session_id {
            Some(id) => {
                let entry = cache
                    .session(tenant, id)
                    .filter(|e| self.fresh_at(e.loaded_at, now))?;
                self.inner.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(entry)
            }
            None => None,
        };
        Some(self.verdict(
            principal,
            user_mark.not_before,
            tenant_mark.not_before,
            session.as_ref(),
        ))
    }

    /// The verdict after loading what the cache lacks (or holds stale) from the store.
    async fn check_loading(&self, principal: &Principal) -> Result<(), AuthError> {
        let tenant = principal.tenant_id;
        let user_mark = self.user_mark(tenant, principal.user_id).await?;
        let tenant_mark = self.tenant_mark(tenant).await?;
        let session = match &principal.session_id {
            Some(id) => self.session_entry(tenant, id).await?,
            None => None,
        };
        self.verdict(principal, user_mark, tenant_mark, session.as_ref())
    }

    /// `session` is the principal's session entry (`None`: unknown to the store), read
    /// only when the principal has a session.
    fn verdict(
        &self,
        principal: &Principal,
        user_mark: Option<DateTime<Utc>>,
        tenant_mark: Option<DateTime<Utc>>,
        session: Option<&SessionEntry>,
    ) -> Result<(), AuthError> {
        let revoked = match &principal.session_id {
            Some(id) => {
                let now = Utc::now();
                let revoked = match session {
                    None => true,
                    Some(s) => {
                        let created = s.created_at;
                        s.revoked
                            || s.expires_at <= now
                            || s.user_id != principal.user_id
                            || user_mark.is_some_and(|m| created < m)
                            || tenant_mark.is_some_and(|m| created < m)
                    }
                };
                if !revoked {
                    self.touch_throttled(principal.tenant_id, id, now);
                }
                revoked
            }
            // No local session (Entra ID tokens): the token's `iat` against the marks.
            None => match principal.issued_at {
                Some(iat) => {
                    let iat = iat.timestamp();
                    user_mark.is_some_and(|m| iat < ceil_seconds(m))
                        || tenant_mark.is_some_and(|m| iat < ceil_seconds(m))
                }
                None => user_mark.is_some() || tenant_mark.is_some(),
            },
        };
        if revoked {
            self.inner.stats.revoked.fetch_add(1, Ordering::Relaxed);
            return Err(AuthError::SessionRevoked);
        }
        Ok(())
    }

    fn fresh(&self, loaded_at: Instant) -> bool {
        self.fresh_at(loaded_at, Instant::now())
    }

    fn fresh_at(&self, loaded_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(loaded_at) <= self.inner.config.entry_ttl()
            && self.feed_covers(loaded_at, now)
    }

    fn within_grace(&self, loaded_at: Instant) -> bool {
        let now = Instant::now();
        self.feed_covers(loaded_at, now)
            && self.inner.config.grace_period().is_some_and(|g| {
                now.saturating_duration_since(loaded_at) <= self.inner.config.entry_ttl() + g
            })
    }

    async fn session_entry(
        &self,
        tenant: TenantId,
        id: &SessionId,
    ) -> Result<Option<SessionEntry>, AuthError> {
        let cached = self.inner.cache.session(tenant, id);
        if let Some(e) = &cached
            && self.fresh(e.loaded_at)
        {
            self.inner.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(cached);
        }
        let seen = self.inner.cache.generation();
        self.inner.stats.loads.fetch_add(1, Ordering::Relaxed);
        match self.inner.store.get(tenant, id).await {
            Ok(Some(session)) => {
                let entry = SessionEntry::from_session(&session);
                self.inner
                    .cache
                    .fill_session(seen, tenant, id.clone(), entry.clone());
                Ok(Some(entry))
            }
            // Unknown sessions are not cached: creation on another instance may be in flight.
            Ok(None) => Ok(None),
            Err(e) => match cached {
                Some(c) if self.within_grace(c.loaded_at) => Ok(Some(c)),
                _ => Err(AuthError::StoreUnavailable(e)),
            },
        }
    }

    async fn user_mark(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<DateTime<Utc>>, AuthError> {
        let cached = self.inner.cache.user_mark(tenant, user);
        self.mark(
            cached,
            |seen, entry| self.inner.cache.fill_user_mark(seen, tenant, user, entry),
            || async {
                self.inner
                    .store
                    .watermarks(tenant, user)
                    .await
                    .map(|w| w.user_not_before)
            },
        )
        .await
    }

    async fn tenant_mark(&self, tenant: TenantId) -> Result<Option<DateTime<Utc>>, AuthError> {
        let cached = self.inner.cache.tenant_mark(tenant);
        // Any user of the tenant will do to read the tenant mark; the store keys it by tenant.
        self.mark(
            cached,
            |seen, entry| self.inner.cache.fill_tenant_mark(seen, tenant, entry),
            || async {
                self.inner
                    .store
                    .watermarks(tenant, UserId::from_uuid(uuid::Uuid::nil()))
                    .await
                    .map(|w| w.tenant_not_before)
            },
        )
        .await
    }

    async fn mark<F, Fut>(
        &self,
        cached: Option<MarkEntry>,
        fill: impl FnOnce(u64, MarkEntry),
        load: F,
    ) -> Result<Option<DateTime<Utc>>, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = erp_core::Result<Option<DateTime<Utc>>>>,
    {
        if let Some(e) = cached
            && self.fresh(e.loaded_at)
        {
            return Ok(e.not_before);
        }
        let seen = self.inner.cache.generation();
        self.inner.stats.loads.fetch_add(1, Ordering::Relaxed);
        match load().await {
            Ok(not_before) => {
                fill(
                    seen,
                    MarkEntry {
                        not_before,
                        loaded_at: Instant::now(),
                    },
                );
                Ok(not_before)
            }
            Err(e) => match cached {
                Some(c) if self.within_grace(c.loaded_at) => Ok(c.not_before),
                _ => Err(AuthError::StoreUnavailable(e)),
            },
        }
    }

    /// Records activity at most once per touch interval per session, off the request path.
    fn touch_throttled(&self, tenant: TenantId, id: &SessionId, now: DateTime<Utc>) {
        {
            let mut last = self
                .inner
                .last_touch
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let key = (tenant, id.clone());
            if last
                .get(&key)
                .is_some_and(|t| t.elapsed() < self.inner.config.touch_interval())
            {
                return;
            }
            if last.len() >= self.inner.config.max_entries() {
                last.clear();
            }
            last.insert(key, Instant::now());
        }
        let store = Arc::clone(&self.inner.store);
        let id = id.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch(tenant, &id, now).await {
                tracing::debug!(error = %e, "recording session activity failed");
            }
        });
    }

    /// Revokes one session, here at once and elsewhere through the store's notification.
    pub async fn revoke_session(
        &self,
        tenant: TenantId,
        id: &SessionId,
    ) -> Result<bool, AuthError> {
        let revoked = self.inner.store.revoke(tenant, id, Utc::now()).await?;
        self.invalidate(&RevocationEvent::Session(tenant, id.clone()));
        Ok(revoked)
    }

    /// Revokes every session and token of a user.
    pub async fn revoke_user(&self, tenant: TenantId, user: UserId) -> Result<u64, AuthError> {
        let n = self
            .inner
            .store
            .revoke_user(tenant, user, Utc::now())
            .await?;
        self.invalidate(&RevocationEvent::User(tenant, user));
        Ok(n)
    }

    /// Revokes every session and token of a tenant (emergency lock-down).
    pub async fn revoke_tenant(&self, tenant: TenantId) -> Result<u64, AuthError> {
        let n = self.inner.store.revoke_tenant(tenant, Utc::now()).await?;
        self.invalidate(&RevocationEvent::Tenant(tenant));
        Ok(n)
    }

    /// The cached view of a session, loading it if needed (cookie sign-in).
    pub(crate) async fn active_session(
        &self,
        tenant: TenantId,
        id: &SessionId,
    ) -> Result<Option<UserId>, AuthError> {
        let now = Utc::now();
        Ok(self
            .session_entry(tenant, id)
            .await?
            .filter(|s| !s.revoked && s.expires_at > now)
            .map(|s| s.user_id))
    }
}

/// Deletes expired sessions every `interval` until the returned task is aborted.
pub fn spawn_purger(
    store: Arc<dyn SessionStore>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    crate::purge::spawn_purge_loop(interval, "sessions", move |now| {
        let store = store.clone();
        async move { store.purge_expired(now).await }
    })
}

/// The one loop behind every `follow`: runs `apply` on each event until the sender closes
/// or `target` is dropped; a receiver that fell behind (events lost) gets
/// [`RevocationEvent::All`], so whatever it feeds drops everything it cached.
pub(crate) fn spawn_follower<T: Send + Sync + 'static>(
    target: Weak<T>,
    mut events: broadcast::Receiver<RevocationEvent>,
    apply: impl Fn(&T, &RevocationEvent) + Send + 'static,
) {
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(_)) => RevocationEvent::All,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let Some(target) = target.upgrade() else {
                return;
            };
            apply(&target, &event);
        }
    });
}
