use std::{fmt, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use erp_core::{
    AuditSink, AuthEvent, AuthEventKind, AuthMethod, DirectoryUser, NewSession, Principal,
    RateLimitStore, RefreshOutcome, RefreshToken, RefreshTokenStore, Role, SessionId, SessionStore,
    TenantId, TenantRepository, TracingAuditSink, User, UserId, UserRepository,
};
use serde::Serialize;

use super::{ExternalAuthClient, ExternalError, RateLimiter, Verdict};
use crate::{
    AuthError,
    local::{LocalTokenIssuer, TokenRequest},
    password::{PasswordHasher, Verified},
    session::SessionGuard,
};

/// A sign-in attempt.
#[derive(Clone, Default)]
pub struct LoginRequest {
    /// Tenant slug; the default tenant when absent.
    pub tenant: Option<String>,
    /// Username as typed.
    pub username: String,
    /// Password as typed (never logged, never stored).
    pub password: String,
    /// Client address (rate limits, audit).
    pub ip: Option<String>,
    /// Client user agent (audit, session list).
    pub user_agent: Option<String>,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("tenant", &self.tenant)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

/// The signed-in user as returned to the client.
#[derive(Debug, Clone, Serialize)]
pub struct LoginUser {
    /// User id.
    pub id: UserId,
    /// Tenant id.
    pub tenant_id: TenantId,
    /// Login name.
    pub username: String,
    /// Human name.
    pub display_name: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// ERP roles.
    pub roles: Vec<Role>,
}

impl LoginUser {
    fn from_user(user: &User) -> Self {
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone().or_else(|| user.azure_email.clone()),
            roles: user.roles.clone(),
        }
    }
}

/// What a successful login or refresh hands out.
#[derive(Debug, Clone)]
pub struct LoginResult {
    /// Local HS256 access token.
    pub access_token: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
    /// When the client should refresh (`TOKEN_REFRESH_BUFFER` before expiry).
    pub refresh_at: DateTime<Utc>,
    /// The refresh token (rotated on every use).
    pub refresh_token: RefreshToken,
    /// When the refresh token expires (with the session).
    pub refresh_expires_at: DateTime<Utc>,
    /// The session opened.
    pub session_id: SessionId,
    /// How the user signed in.
    pub auth_method: AuthMethod,
    /// The user.
    pub user: LoginUser,
    /// Expiry of the upstream (external API) tokens, when signed in through it.
    pub upstream_expires_at: Option<DateTime<Utc>>,
}

struct Inner {
    users: Arc<dyn UserRepository>,
    tenants: Arc<dyn TenantRepository>,
    sessions: Arc<dyn SessionStore>,
    refresh: Arc<dyn RefreshTokenStore>,
    issuer: LocalTokenIssuer,
    hasher: PasswordHasher,
    external: Option<ExternalAuthClient>,
    local_fallback: bool,
    limits_store: Arc<dyn RateLimitStore>,
    per_user: RateLimiter,
    per_ip: RateLimiter,
    audit: Arc<dyn AuditSink>,
    guard: Option<SessionGuard>,
    default_tenant: Option<TenantId>,
    session_ttl: Duration,
    refresh_buffer: Duration,
    refresh_reuse_interval: Duration,
}

/// Logs people in, refreshes and ends their sessions.
#[derive(Clone)]
pub struct LoginService {
    inner: Arc<Inner>,
}

impl fmt::Debug for LoginService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginService")
            .field("external", &self.inner.external.is_some())
            .field("local_fallback", &self.inner.local_fallback)
            .field("session_ttl", &self.inner.session_ttl)
            .finish_non_exhaustive()
    }
}

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

/// How a password check ended, before any session exists.
enum Checked {
    Ok(User, AuthMethod, Option<DateTime<Utc>>),
    Failed(AuthError),
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

    /// The password hasher (for the CLI's `password hash` and user administration).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    async fn audit(&self, event: AuthEvent) {
        if let Err(e) = self.inner.audit.record(&event).await {
            tracing::warn!(error = %e, kind = %event.kind, "audit event not recorded");
        }
    }

    async fn tenant(&self, slug: Option<&str>) -> Result<TenantId, AuthError> {
        let tenant = match slug.map(str::trim).filter(|s| !s.is_empty()) {
            Some(slug) => self.inner.tenants.by_slug(slug).await?,
            None => match self.inner.default_tenant {
                Some(id) => self.inner.tenants.by_id(id).await?,
                None => None,
            },
        };
        match tenant {
            Some(t) if t.is_active => Ok(t.id),
            // Unknown and disabled tenants look alike to the client.
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// The per-address limit, then the per-username one (an address over its budget
    /// does not spend the username's); `Some(wait)` when either refuses.
    async fn rate_limited(
        &self,
        ip_key: &str,
        user_key: &str,
    ) -> Result<Option<Duration>, erp_core::Error> {
        let now = Utc::now();
        if let Verdict::Limited(wait) = self.inner.per_ip.attempt(ip_key, now).await? {
            return Ok(Some(wait));
        }
        Ok(match self.inner.per_user.attempt(user_key, now).await? {
            Verdict::Limited(wait) => Some(wait),
            Verdict::Allowed => None,
        })
    }

    /// Checks the credentials and opens a session.
    pub async fn login(&self, req: LoginRequest) -> Result<LoginResult, AuthError> {
        let username = req.username.trim();
        if username.is_empty() || username.chars().count() > 128 {
            return Err(AuthError::ValidationFailed(
                "username must be 1 to 128 characters",
            ));
        }
        if req.password.is_empty() || req.password.len() > crate::password::MAX_PASSWORD_LEN {
            return Err(AuthError::ValidationFailed(
                "password must be 1 to 1024 bytes",
            ));
        }
        let tenant = self.tenant(req.tenant.as_deref()).await?;
        // Prefixed: one store holds both limits.
        let user_key = format!("user:{tenant}:{}", username.to_lowercase());
        let ip_key = format!("ip:{}", req.ip.as_deref().unwrap_or_default());
        let event = |kind| {
            AuthEvent::new(tenant, kind)
                .with_username(username)
                .with_client(req.ip.as_deref(), req.user_agent.as_deref())
        };
        let limited = match self.rate_limited(&ip_key, &user_key).await {
            Ok(limited) => limited,
            Err(e) => {
                // Fail closed: without its counters a limiter is no limit at all.
                tracing::warn!(error = %e, "login rate limit store unavailable");
                self.audit(event(AuthEventKind::Login).failed("RATE_LIMIT_UNAVAILABLE"))
                    .await;
                crate::metrics::login("any", "UPSTREAM_UNAVAILABLE");
                return Err(AuthError::StoreUnavailable(e));
            }
        };
        if let Some(retry_after) = limited {
            self.audit(event(AuthEventKind::Login).failed("RATE_LIMITED"))
                .await;
            crate::metrics::login("any", "RATE_LIMITED");
            return Err(AuthError::RateLimited { retry_after });
        }
        let checked = match &self.inner.external {
            Some(external) => {
                self.check_external(external, tenant, username, &req.password)
                    .await?
            }
            None => self.check_local(tenant, username, &req.password).await?,
        };
        let (user, method, upstream_expires_at) = match checked {
            Checked::Ok(user, method, upstream) => (user, method, upstream),
            Checked::Failed(err) => {
                self.audit(event(AuthEventKind::Login).failed(err.code()))
                    .await;
                crate::metrics::login("any", err.code());
                return Err(err);
            }
        };
        if !user.is_active {
            self.audit(
                event(AuthEventKind::Login)
                    .with_user(user.id)
                    .failed("ACCOUNT_DISABLED"),
            )
            .await;
            crate::metrics::login(method.as_str(), "ACCOUNT_DISABLED");
            return Err(AuthError::AccountDisabled);
        }
        if let Err(e) = self.inner.per_user.reset(&user_key).await {
            // The login stands; the username's earlier failures just count a while longer.
            tracing::warn!(error = %e, "login rate limit not reset");
        }
        let result = self
            .open_session(
                &user,
                method,
                req.ip.as_deref(),
                req.user_agent.as_deref(),
                upstream_expires_at,
            )
            .await?;
        self.audit(
            event(AuthEventKind::Login)
                .with_user(user.id)
                .with_session(result.session_id.clone())
                .with_detail(method.as_str()),
        )
        .await;
        crate::metrics::login(method.as_str(), "ok");
        Ok(result)
    }

    /// Local password check. Unknown users and users without a local hash cost one
    /// dummy Argon2id verification, so timing does not tell which usernames exist.
    async fn check_local(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
    ) -> Result<Checked, AuthError> {
        let user = self.inner.users.by_username(tenant, username).await?;
        let Some((user, hash)) = user.and_then(|u| u.password_hash.clone().map(|h| (u, h))) else {
            let hasher = self.inner.hasher.clone();
            let password = password.to_owned();
            let _ = tokio::task::spawn_blocking(move || hasher.verify_dummy(&password)).await;
            return Ok(Checked::Failed(AuthError::InvalidCredentials));
        };
        let hasher = self.inner.hasher.clone();
        let pw = password.to_owned();
        let verdict = tokio::task::spawn_blocking(move || hasher.verify(&pw, &hash))
            .await
            .map_err(|_| AuthError::Config("password verification task failed".into()))?;
        match verdict {
            Ok(Verified::Valid { needs_rehash }) => {
                if needs_rehash {
                    self.upgrade_hash(&user, password).await;
                }
                Ok(Checked::Ok(user, AuthMethod::LocalPassword, None))
            }
            Ok(Verified::Invalid) => Ok(Checked::Failed(AuthError::InvalidCredentials)),
            Err(e) => {
                // A stored hash we cannot read is an operator problem, not the user's.
                tracing::warn!(user = %user.id, error = %e, "unreadable password hash");
                Ok(Checked::Failed(AuthError::InvalidCredentials))
            }
        }
    }

    /// Re-hashes a legacy (or weaker) hash with the current Argon2id parameters.
    async fn upgrade_hash(&self, user: &User, password: &str) {
        let hasher = self.inner.hasher.clone();
        let pw = password.to_owned();
        match tokio::task::spawn_blocking(move || hasher.hash(&pw)).await {
            Ok(Ok(new_hash)) => match self
                .inner
                .users
                .set_password_hash(user.tenant_id, user.id, &new_hash)
                .await
            {
                Ok(()) => {
                    self.audit(
                        AuthEvent::new(user.tenant_id, AuthEventKind::PasswordUpgrade)
                            .with_user(user.id),
                    )
                    .await;
                }
                Err(e) => {
                    tracing::warn!(user = %user.id, error = %e, "password hash upgrade not saved")
                }
            },
            _ => tracing::warn!(user = %user.id, "password re-hash failed"),
        }
    }

    async fn check_external(
        &self,
        external: &ExternalAuthClient,
        tenant: TenantId,
        username: &str,
        password: &str,
    ) -> Result<Checked, AuthError> {
        match external.authenticate(username, password).await {
            Ok(ext) => {
                let user = self
                    .inner
                    .users
                    .upsert_directory_user(
                        tenant,
                        DirectoryUser {
                            username: username.to_owned(),
                            external_user_id: ext.id.clone(),
                            display_name: ext.name.clone(),
                            email: ext.email.clone(),
                            refreshed_at: Utc::now(),
                        },
                    )
                    .await
                    .map_err(|e| match e {
                        erp_core::Error::Conflict { .. } => AuthError::UserNotProvisioned,
                        other => AuthError::StoreUnavailable(other),
                    })?;
                Ok(Checked::Ok(user, AuthMethod::ExternalApi, ext.expires_at))
            }
            // The upstream said "wrong password": final, never a fallback.
            Err(ExternalError::InvalidCredentials) => {
                Ok(Checked::Failed(AuthError::InvalidCredentials))
            }
            Err(e) => {
                tracing::warn!(error = %e, "external auth API failed");
                if self.inner.local_fallback {
                    let has_local_hash = self
                        .inner
                        .users
                        .by_username(tenant, username)
                        .await?
                        .is_some_and(|u| u.password_hash.is_some());
                    if has_local_hash {
                        return self.check_local(tenant, username, password).await;
                    }
                }
                Ok(Checked::Failed(AuthError::UpstreamUnavailable {
                    service: "external_auth",
                    reason: e.to_string(),
                }))
            }
        }
    }

    /// Opens a session and issues the tokens for it.
    async fn open_session(
        &self,
        user: &User,
        method: AuthMethod,
        ip: Option<&str>,
        user_agent: Option<&str>,
        upstream_expires_at: Option<DateTime<Utc>>,
    ) -> Result<LoginResult, AuthError> {
        let ttl = chrono::Duration::from_std(self.inner.session_ttl)
            .map_err(|_| AuthError::Config("session TTL out of range".into()))?;
        // A fresh id on every sign-in: a session id known before login is worthless after.
        let session = self
            .inner
            .sessions
            .create(NewSession {
                id: SessionId::generate(),
                tenant_id: user.tenant_id,
                user_id: user.id,
                auth_method: method,
                expires_at: Utc::now() + ttl,
                ip: ip.map(str::to_owned),
                user_agent: user_agent.map(str::to_owned),
            })
            .await?;
        let refresh = self
            .inner
            .refresh
            .issue_refresh(user.tenant_id, &session.id, user.id, session.expires_at)
            .await?;
        self.tokens_for(
            user,
            session.id,
            method,
            refresh.token,
            refresh.expires_at,
            upstream_expires_at,
        )
    }

    fn tokens_for(
        &self,
        user: &User,
        session_id: SessionId,
        method: AuthMethod,
        refresh_token: RefreshToken,
        refresh_expires_at: DateTime<Utc>,
        upstream_expires_at: Option<DateTime<Utc>>,
    ) -> Result<LoginResult, AuthError> {
        let access = self.inner.issuer.issue(&TokenRequest {
            user_id: user.id,
            tenant_id: user.tenant_id,
            session_id: session_id.clone(),
            roles: user.roles.clone(),
        })?;
        Ok(LoginResult {
            refresh_at: access.refresh_at(self.inner.refresh_buffer),
            access_token: access.token,
            expires_at: access.expires_at,
            refresh_token,
            refresh_expires_at,
            session_id,
            auth_method: method,
            user: LoginUser::from_user(user),
            upstream_expires_at,
        })
    }

    /// Rotates a refresh token: a new access token and refresh token for the same session.
    /// A reused token revokes its family and session (theft) and is audited.
    pub async fn refresh(&self, token: &str, ip: Option<&str>) -> Result<LoginResult, AuthError> {
        let token = RefreshToken::parse(token).map_err(|_| AuthError::InvalidCredentials)?;
        let tenant = token.tenant();
        let now = Utc::now();
        // A reuse interval beyond chrono's range is as good as "always within".
        let reuse_interval = chrono::Duration::from_std(self.inner.refresh_reuse_interval)
            .unwrap_or(chrono::Duration::MAX);
        // The successor lives as long as the session; rotation never extends it.
        let outcome = self
            .inner
            .refresh
            .rotate_refresh(
                &token,
                now,
                now + chrono::Duration::days(365),
                reuse_interval,
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated(next) | RefreshOutcome::Reissued(next) => {
                let session = self
                    .inner
                    .sessions
                    .get(tenant, &next.session_id)
                    .await?
                    .filter(|s| s.is_active_at(now))
                    .ok_or(AuthError::SessionRevoked)?;
                let user = self
                    .inner
                    .users
                    .by_id(tenant, next.user_id)
                    .await?
                    .filter(|u| u.is_active)
                    .ok_or(AuthError::AccountDisabled)?;
                self.audit(
                    AuthEvent::new(tenant, AuthEventKind::Refresh)
                        .with_user(user.id)
                        .with_session(session.id.clone())
                        .with_client(ip, None),
                )
                .await;
                self.tokens_for(
                    &user,
                    session.id,
                    session.auth_method,
                    next.token,
                    session.expires_at,
                    None,
                )
            }
            RefreshOutcome::Reused {
                session_id,
                user_id,
            } => {
                if let Some(guard) = &self.inner.guard {
                    guard.invalidate(&erp_core::RevocationEvent::Session(
                        tenant,
                        session_id.clone(),
                    ));
                }
                self.audit(
                    AuthEvent::new(tenant, AuthEventKind::RefreshReuse)
                        .failed("REFRESH_REUSED")
                        .with_user(user_id)
                        .with_session(session_id)
                        .with_client(ip, None),
                )
                .await;
                Err(AuthError::SessionRevoked)
            }
            RefreshOutcome::Expired => Err(AuthError::Expired),
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// Ends the principal's session (its refresh tokens with it).
    pub async fn logout(&self, principal: &Principal) -> Result<bool, AuthError> {
        let Some(session) = &principal.session_id else {
            return Ok(false);
        };
        let revoked = match &self.inner.guard {
            Some(guard) => guard.revoke_session(principal.tenant_id, session).await?,
            None => {
                self.inner
                    .sessions
                    .revoke(principal.tenant_id, session, Utc::now())
                    .await?
            }
        };
        self.audit(
            AuthEvent::new(principal.tenant_id, AuthEventKind::Logout)
                .with_user(principal.user_id)
                .with_session(session.clone()),
        )
        .await;
        Ok(revoked)
    }
}
