//! [`LoginServiceBuilder`]: the stores and issuer a [`LoginService`] needs, and its
//! defaults (rate limits, session lifetime, refresh timing), changed one setting at a time.

use std::{fmt, sync::Arc, time::Duration};

use erp_core::{
    AuditSink, RateLimitStore, RefreshTokenStore, SessionStore, TenantId, TenantRepository,
    TracingAuditSink, UserRepository,
};

use super::{ExternalAuthClient, LoginService, RateLimiter, service::Inner};
use crate::{local::LocalTokenIssuer, password::PasswordHasher, session::SessionGuard};

/// Builds a [`LoginService`].
pub struct LoginServiceBuilder {
    inner: Inner,
}

impl fmt::Debug for LoginServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginServiceBuilder")
            .finish_non_exhaustive()
    }
}

impl LoginServiceBuilder {
    /// Argon2id parameters (default OWASP: m=19456 KiB, t=2, p=1).
    pub fn with_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.inner.hasher = hasher;
        self
    }

    /// Sign in through the external API (`USE_EXTERNAL_AUTH=true`); with `local_fallback`,
    /// an upstream outage (never an upstream "wrong password") falls back to the local
    /// password when the user has one.
    pub fn with_external(mut self, client: ExternalAuthClient, local_fallback: bool) -> Self {
        self.inner.external = Some(client);
        self.inner.local_fallback = local_fallback;
        self
    }

    /// Attempts allowed per username and per client address in `window` (defaults: 10
    /// per username, 100 per address, per 5 minutes; 0 disables a limit).
    pub fn with_rate_limits(mut self, per_user: usize, per_ip: usize, window: Duration) -> Self {
        let store = self.inner.limits_store.clone();
        self.inner.per_user = RateLimiter::new(store.clone(), per_user, window);
        self.inner.per_ip = RateLimiter::new(store, per_ip, window);
        self
    }

    /// Where attempts are counted (default: in this process only). Give every instance
    /// the same shared store (`SqlRateLimitStore`, Redis) and the budget holds in total.
    /// Call before [`with_rate_limits`](Self::with_rate_limits) or after: the limits stay.
    pub fn with_rate_limit_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.inner.per_user = self.inner.per_user.with_store(store.clone());
        self.inner.per_ip = self.inner.per_ip.with_store(store.clone());
        self.inner.limits_store = store;
        self
    }

    /// Where audit events go (default: tracing).
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.inner.audit = sink;
        self
    }

    /// Revocations made by logout apply at once to this guard's cache.
    pub fn with_session_guard(mut self, guard: SessionGuard) -> Self {
        self.inner.guard = Some(guard);
        self
    }

    /// Tenant used when a login names none.
    pub fn with_default_tenant(mut self, tenant: Option<TenantId>) -> Self {
        self.inner.default_tenant = tenant;
        self
    }

    /// Session (and refresh token) lifetime (default 12 h).
    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.inner.session_ttl = ttl;
        self
    }

    /// How early clients should refresh (`TOKEN_REFRESH_BUFFER`, default 60 s).
    pub fn with_refresh_buffer(mut self, buffer: Duration) -> Self {
        self.inner.refresh_buffer = buffer;
        self
    }

    /// How long a just-rotated refresh token may be presented again without counting as
    /// theft (`REFRESH_TOKEN_REUSE_INTERVAL`, default 10 s; zero is strict): two tabs or
    /// a client retry racing one refresh then each get a token of the same family
    /// instead of signing the user out. See [`RefreshTokenStore::rotate_refresh`].
    pub fn with_refresh_reuse_interval(mut self, interval: Duration) -> Self {
        self.inner.refresh_reuse_interval = interval;
        self
    }

    /// Finishes.
    pub fn build(self) -> LoginService {
        LoginService {
            inner: Arc::new(self.inner),
        }
    }
}

impl LoginService {
    /// Starts a builder over the stores and the token issuer.
    pub fn builder(
        users: Arc<dyn UserRepository>,
        tenants: Arc<dyn TenantRepository>,
        sessions: Arc<dyn SessionStore>,
        refresh: Arc<dyn RefreshTokenStore>,
        issuer: LocalTokenIssuer,
    ) -> LoginServiceBuilder {
        let limits_store: Arc<dyn RateLimitStore> = Arc::new(erp_core::memory::MemoryStore::new());
        LoginServiceBuilder {
            inner: Inner {
                users,
                tenants,
                sessions,
                refresh,
                issuer,
                hasher: PasswordHasher::new(),
                external: None,
                local_fallback: false,
                limits_store: limits_store.clone(),
                per_user: RateLimiter::new(limits_store.clone(), 10, Duration::from_secs(300)),
                per_ip: RateLimiter::new(limits_store, 100, Duration::from_secs(300)),
                audit: Arc::new(TracingAuditSink),
                guard: None,
                default_tenant: None,
                session_ttl: Duration::from_secs(12 * 3600),
                refresh_buffer: Duration::from_secs(60),
                refresh_reuse_interval: Duration::from_secs(10),
            },
        }
    }
}
