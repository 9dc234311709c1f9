//! [`LoginService`]: login, refresh and logout over the stores, the rate limits and the
//! audit sink.

use std::{fmt, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use erp_core::{
    AuditSink, AuthEvent, AuthEventKind, AuthMethod, DirectoryUser, NewSession, Principal,
    RateLimitStore, RefreshOutcome, RefreshToken, RefreshTokenStore, SessionId, SessionStore,
    TenantId, TenantRepository, User, UserRepository,
};

use super::{
    ExternalAuthClient, ExternalError, LoginRequest, LoginResult, LoginUser, RateLimiter, Verdict,
};
use crate::{
    AuthError,
    local::{LocalTokenIssuer, TokenRequest},
    password::{PasswordHasher, Verified},
    session::SessionGuard,
};

/// What a [`LoginService`] holds; filled by [`LoginServiceBuilder`](super::LoginServiceBuilder).
pub(super) struct Inner {
    pub(super) users: Arc<dyn UserRepository>,
    pub(super) tenants: Arc<dyn TenantRepository>,
    pub(super) sessions: Arc<dyn SessionStore>,
    pub(super) refresh: Arc<dyn RefreshTokenStore>,
    pub(super) issuer: LocalTokenIssuer,
    pub(super) hasher: PasswordHasher,
    pub(super) external: Option<ExternalAuthClient>,
    pub(super) local_fallback: bool,
    pub(super) limits_store: Arc<dyn RateLimitStore>,
    pub(super) per_user: RateLimiter,
    pub(super) per_ip: RateLimiter,
    pub(super) audit: Arc<dyn AuditSink>,
    pub(super) guard: Option<SessionGuard>,
    pub(super) default_tenant: Option<TenantId>,
    pub(super) session_ttl: Duration,
    pub(super) refresh_buffer: Duration,
    pub(super) refresh_reuse_interval: Duration,
}

/// Logs people in, refreshes and ends their sessions.
#[derive(Clone)]
pub struct LoginService {
    pub(super) inner: Arc<Inner>,
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

/// How a password check ended, before any session exists.
enum Checked {
    Ok(User, AuthMethod, Option<DateTime<Utc>>),
    Failed(AuthError),
}

impl LoginService {
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
