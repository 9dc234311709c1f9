//! Routing a credential to exactly one verifier, then resolving the user.

use std::sync::{Arc, atomic::Ordering};

use tokio::time::Instant;

use erp_core::Principal;

use crate::{
    jwt::Claims,
    session::{SessionCookies, SessionGuard, TokenRevocationGuard},
    token_cache::{KeyHandle, Verified},
};

/// The verified claims of the request's token, next to the [`Principal`] in the request
/// extensions: for handlers that need a claim the principal does not carry (`scp`, the
/// group-overage flag, `uti`, ...).
#[derive(Debug, Clone)]
pub struct TokenClaims(pub Arc<Claims>);

impl std::ops::Deref for TokenClaims {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

use crate::{
    AuthError, azure::AzureAdVerifier, jwt::CompactJwt, local::LocalJwtVerifier,
    resolve::UserResolver,
};

/// Largest bearer token accepted by default. Entra ID tokens with many groups reach a
/// few KiB; anything near this is hostile or broken and is refused before parsing.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Turns a bearer token into a [`Principal`].
///
/// The token's `iss` picks the verifier: an Entra ID issuer goes to the Azure verifier
/// (RS256 only), our own issuer to the local one (HS256 only), anything else is
/// refused. Tokens are never "tried" against each verifier in turn, so an HS256 token
/// can never be checked with an RSA public key as its secret, nor an RS256 token
/// against our HMAC keys.
#[derive(Debug, Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    azure: Option<AzureAdVerifier>,
    local: Option<LocalJwtVerifier>,
    resolver: UserResolver,
    sessions: Option<SessionGuard>,
    tokens: Option<TokenRevocationGuard>,
    cookies: Option<SessionCookies>,
    iam: Option<crate::iam::IamVerifier>,
    cache: Option<crate::token_cache::TokenCache>,
    max_token_bytes: usize,
    audit: Option<AuditHandle>,
}

/// Builds an [`Authenticator`].
#[derive(Debug)]
pub struct AuthenticatorBuilder {
    azure: Option<AzureAdVerifier>,
    local: Option<LocalJwtVerifier>,
    resolver: UserResolver,
    sessions: Option<SessionGuard>,
    tokens: Option<TokenRevocationGuard>,
    cookies: Option<SessionCookies>,
    iam: Option<crate::iam::IamVerifier>,
    cache: Option<crate::token_cache::TokenCacheConfig>,
    max_token_bytes: usize,
    audit: Option<AuditHandle>,
}

/// The audit sink, printable.
#[derive(Clone)]
struct AuditHandle(Arc<dyn erp_core::AuditSink>);

impl std::fmt::Debug for AuditHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditSink")
    }
}

impl AuthenticatorBuilder {
    /// Records service (app-only token) access in `sink`: once per token, when it is
    /// first verified (the verified-token cache answers the repeats).
    pub fn with_audit(mut self, sink: Arc<dyn erp_core::AuditSink>) -> Self {
        self.audit = Some(AuditHandle(sink));
        self
    }

    /// Caches verified tokens, so a repeated token costs a lookup instead of a
    /// signature check (see [`crate::token_cache`] for what is still checked every time).
    pub fn with_token_cache(mut self, config: crate::token_cache::TokenCacheConfig) -> Self {
        self.cache = Some(config);
        self
    }

    /// IAM-service mode (`AUTH_MODE=iam_service`): every bearer token is checked with the
    /// IAM service; Entra ID and local verifiers are not consulted.
    pub fn with_iam(mut self, iam: crate::iam::IamVerifier) -> Self {
        self.iam = Some(iam);
        self
    }

    /// Accepts Entra ID access tokens.
    pub fn with_azure(mut self, verifier: AzureAdVerifier) -> Self {
        self.azure = Some(verifier);
        self
    }

    /// Accepts local HS256 access tokens.
    pub fn with_local(mut self, verifier: LocalJwtVerifier) -> Self {
        self.local = Some(verifier);
        self
    }

    /// Checks every principal against revoked sessions and watermarks.
    pub fn with_sessions(mut self, guard: SessionGuard) -> Self {
        self.sessions = Some(guard);
        self
    }

    /// Refuses Entra ID access tokens revoked by sign-out before their expiry.
    pub fn with_token_revocations(mut self, guard: TokenRevocationGuard) -> Self {
        self.tokens = Some(guard);
        self
    }

    /// Accepts the signed session cookie when no bearer token is sent (needs sessions).
    pub fn with_cookies(mut self, cookies: SessionCookies) -> Self {
        self.cookies = Some(cookies);
        self
    }

    /// Largest token accepted (default [`DEFAULT_MAX_TOKEN_BYTES`]).
    pub fn with_max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Finishes; at least one verifier is required.
    pub fn build(self) -> Result<Authenticator, AuthError> {
        if self.azure.is_none()
            && self.local.is_none()
            && self.cookies.is_none()
            && self.iam.is_none()
        {
            return Err(AuthError::Config("no token verifier is configured".into()));
        }
        if self.cookies.is_some() && self.sessions.is_none() {
            return Err(AuthError::Config(
                "session cookies need a session store".into(),
            ));
        }
        if let (Some(azure), Some(local)) = (&self.azure, &self.local)
            && azure.tenant_of_issuer(local.config().issuer()).is_some()
        {
            return Err(AuthError::Config(
                "the local issuer looks like an Entra ID issuer".into(),
            ));
        }
        Ok(Authenticator {
            inner: Arc::new(Inner {
                azure: self.azure,
                local: self.local,
                resolver: self.resolver,
                sessions: self.sessions,
                tokens: self.tokens,
                cookies: self.cookies,
                iam: self.iam,
                cache: self.cache.map(crate::token_cache::TokenCache::new),
                max_token_bytes: self.max_token_bytes,
                audit: self.audit,
            }),
        })
    }
}

impl Authenticator {
    /// Starts a builder with the resolver that maps verified tokens to users.
    pub fn builder(resolver: UserResolver) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            azure: None,
            local: None,
            resolver,
            sessions: None,
            tokens: None,
            cookies: None,
            iam: None,
            cache: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            audit: None,
        }
    }

    /// Largest token accepted.
    pub fn max_token_bytes(&self) -> usize {
        self.inner.max_token_bytes
    }

    /// The session guard, if configured.
    pub fn sessions(&self) -> Option<&SessionGuard> {
        self.inner.sessions.as_ref()
    }

    /// The cookie signer, if configured.
    pub fn cookies(&self) -> Option<&SessionCookies> {
        self.inner.cookies.as_ref()
    }

    /// Authenticates a session named by a verified session cookie.
    pub async fn authenticate_session(
        &self,
        tenant: erp_core::TenantId,
        session: erp_core::SessionId,
    ) -> Result<Principal, AuthError> {
        let guard = self
            .inner
            .sessions
            .as_ref()
            .ok_or_else(|| AuthError::Config("no session store".into()))?;
        let user = guard
            .active_session(tenant, &session)
            .await?
            .ok_or(AuthError::SessionRevoked)?;
        let principal = self
            .inner
            .resolver
            .resolve_user(
                tenant,
                user,
                erp_core::AuthMethod::Cookie,
                Some(session),
                None,
                None,
            )
            .await?;
        guard.check(&principal).await?;
        Ok(principal)
    }

    /// The Entra ID verifier, if configured.
    pub fn azure(&self) -> Option<&AzureAdVerifier> {
        self.inner.azure.as_ref()
    }

    /// Verifies `token` and resolves its user.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.authenticate_with_claims(token).await.map(|(p, _)| p)
    }

    /// Like [`Authenticator::authenticate`], also returning the verified claims.
    pub async fn authenticate_with_claims(
        &self,
        token: &str,
    ) -> Result<(Principal, TokenClaims), AuthError> {
        self.authenticate_bearer(token.as_bytes(), text_of_str, Instant::now())
            .await
    }

    /// The bearer path (the layer's, and [`Authenticator::authenticate_with_claims`]'s):
    /// `token` is the header's bytes after the scheme, and `text` checks its characters
    /// only when the cache does not hold it. A cached token
    /// passed that check before it was verified, so bytes equal to one need no second
    /// look (on an Entra ID token the check was about a thousand instructions).
    ///
    /// `now` is the layer's clock reading, used for every freshness check of the cached
    /// path: reading the clock once per request instead of five times was worth a few
    /// percent of the server's throughput.
    pub(crate) async fn authenticate_bearer(
        &self,
        token: &[u8],
        text: for<'t> fn(&'t [u8]) -> Result<&'t str, AuthError>,
        now: Instant,
    ) -> Result<(Principal, TokenClaims), AuthError> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(AuthError::CredentialTooLarge {
                max: inner.max_token_bytes,
            });
        }
        // A future is as large as its largest await: inlined, the IAM call and the full
        // verification (JWKS, user store) made every request's future 3 KB, copied twice
        // and allocated outside the allocator's fast bins even on a cache hit. Boxed, they
        // cost one allocation where a signature check or an HTTP call dwarfs it.
        if let Some(iam) = &inner.iam {
            return Box::pin(self.authenticate_iam(iam, text(token)?)).await;
        }
        if let Some(cache) = &inner.cache {
            match self.lookup(cache, token, now) {
                Lookup::Done(outcome) => return outcome,
                Lookup::Wait(verified) => {
                    // Boxed for the size of the hit path's future (see above).
                    return Box::pin(self.cached_waiting(cache, token, &verified, now)).await;
                }
                Lookup::Miss => {}
            }
            cache.stats.misses.fetch_add(1, Ordering::Relaxed);
            crate::metrics::token_cache(crate::metrics::CacheEvent::Miss, 1);
        }
        Box::pin(self.verify(text(token)?)).await
    }

    /// IAM-service mode: the service knows the token, we resolve its user.
    async fn authenticate_iam(
        &self,
        iam: &crate::iam::IamVerifier,
        token: &str,
    ) -> Result<(Principal, TokenClaims), AuthError> {
        let user = iam.userinfo(token).await?;
        let principal = self.inner.resolver.resolve_iam(&user).await?;
        self.check_revocation(&principal, Instant::now()).await?;
        let claims = Claims {
            sub: Some(user.id),
            ..Claims::default()
        };
        Ok((principal, TokenClaims(Arc::new(claims))))
    }

    /// The signature, the claims and the user of a token the cache does not hold; the
    /// answer goes to the cache.
    async fn verify(&self, token: &str) -> Result<(Principal, TokenClaims), AuthError> {
        let inner = &*self.inner;
        let jwt = CompactJwt::parse(token)?;
        let iss = jwt.claims.iss.as_deref().ok_or(AuthError::UnknownIssuer)?;
        let now = chrono::Utc::now().timestamp();
        let (principal, key, leeway, local) =
            if let Some(local) = inner.local.as_ref().filter(|l| l.owns_issuer(iss)) {
                let key = local.verify(&jwt, now)?;
                let principal = inner.resolver.resolve_local(&jwt.claims).await?;
                (
                    principal,
                    KeyHandle::hmac(&key),
                    local.config().leeway.as_secs() as i64,
                    true,
                )
            } else if let Some(azure) = inner
                .azure
                .as_ref()
                .filter(|a| a.tenant_of_issuer(iss).is_some())
            {
                let key = azure.verify(&jwt, now).await?;
                let principal = inner.resolver.resolve_azure(&jwt.claims).await?;
                (
                    principal,
                    KeyHandle::rsa(&key),
                    azure.config().leeway.as_secs() as i64,
                    false,
                )
            } else {
                return Err(AuthError::UnknownIssuer);
            };
        self.check_revocation(&principal, Instant::now()).await?;
        if !local {
            self.check_token(&principal, &jwt.claims, Instant::now())
                .await?;
        }
        if principal.is_service() {
            self.audit_service(&principal, &jwt.claims).await;
        }
        let claims = Arc::new(jwt.claims);
        if let Some(cache) = &inner.cache {
            cache.insert(
                token.as_bytes(),
                Arc::new(Verified {
                    claims: Arc::clone(&claims),
                    key,
                    principal: principal.clone(),
                    resolved_at: Instant::now(),
                    exp: claims.exp.unwrap_or(now),
                    nbf: claims.nbf,
                    leeway,
                    local,
                }),
            );
        }
        Ok((principal, TokenClaims(claims)))
    }

    /// A service was let in with a token seen for the first time: it acts without a
    /// person, so who (app id) and what it may do (roles) go to the audit trail.
    async fn audit_service(&self, principal: &Principal, claims: &Claims) {
        let roles: Vec<&str> = principal.roles.iter().map(|r| r.as_str()).collect();
        tracing::info!(
            target: "erp::audit",
            kind = "service_access",
            tenant = %principal.tenant_id,
            service = %principal.username,
            directory = claims.tid.as_deref().unwrap_or_default(),
            roles = %roles.join(","),
            "service principal authenticated"
        );
        let Some(sink) = &self.inner.audit else {
            return;
        };
        let event =
            erp_core::AuthEvent::new(principal.tenant_id, erp_core::AuthEventKind::ServiceAccess)
                .with_user(principal.user_id)
                .with_username(&principal.username)
                .with_detail(format!(
                    "app-only token of directory {}; roles: {}",
                    claims.tid.as_deref().unwrap_or("?"),
                    roles.join(",")
                ));
        if let Err(e) = sink.0.record(&event).await {
            tracing::warn!(error = %e, "recording a service access in the audit trail failed");
        }
    }

    /// The bearer path when the verified-token cache can answer without waiting (the
    /// layer's fast path): `None` when the token must be verified or the answer needs the
    /// store, which [`Authenticator::authenticate_bearer`] then does.
    pub(crate) fn authenticate_cached(
        &self,
        token: &[u8],
        now: Instant,
    ) -> Option<Result<(Principal, TokenClaims), AuthError>> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes || inner.iam.is_some() {
            return None;
        }
        match self.lookup(inner.cache.as_ref()?, token, now) {
            Lookup::Done(outcome) => Some(outcome),
            Lookup::Wait(_) | Lookup::Miss => None,
        }
    }

    /// A cached token, checked with what memory holds: its key still published, its
    /// times, its principal fresh, the session guard's and the token guard's verdicts
    /// from their caches. Any of these needing the store makes it [`Lookup::Wait`], and
    /// [`Authenticator::cached_waiting`] runs the same checks awaiting the store.
    fn lookup(&self, cache: &crate::token_cache::TokenCache, token: &[u8], now: Instant) -> Lookup {
        let Some(verified) = cache.get(token, now) else {
            return Lookup::Miss;
        };
        if !verified.key.alive() {
            // Its key left the JWKS: verify afresh (and fail, unless it came back).
            cache.remove(token);
            return Lookup::Miss;
        }
        if let Err(e) = verified.check_times(unix_seconds()) {
            if matches!(e, AuthError::Expired) {
                cache.remove(token);
            }
            return Lookup::Done(Err(e));
        }
        if !cache.principal_fresh(&verified, now) {
            return Lookup::Wait(verified);
        }
        let principal = &verified.principal;
        if let Some(guard) = &self.inner.sessions {
            match guard.check_cached(principal, now) {
                Some(Ok(())) => {}
                Some(Err(e)) => return Lookup::Done(Err(e)),
                None => return Lookup::Wait(verified),
            }
        }
        if !verified.local
            && let (Some(tokens), Some(id)) = (&self.inner.tokens, Self::token_id(&verified.claims))
        {
            match tokens.check_cached(principal.tenant_id, id, now) {
                Some(Ok(())) => {}
                Some(Err(e)) => return Lookup::Done(Err(e)),
                None => return Lookup::Wait(verified),
            }
        }
        Lookup::Done(Ok(Self::hit(cache, &verified, verified.principal.clone())))
    }

    /// [`Authenticator::lookup`]'s checks for a token it found, awaiting what memory did not
    /// hold: a principal due for a refresh, revocation state to load.
    async fn cached_waiting(
        &self,
        cache: &crate::token_cache::TokenCache,
        token: &[u8],
        verified: &Verified,
        now: Instant,
    ) -> Result<(Principal, TokenClaims), AuthError> {
        let principal = if cache.principal_fresh(verified, now) {
            verified.principal.clone()
        } else {
            self.refresh(cache, token, verified).await?
        };
        self.check_revocation(&principal, now).await?;
        if !verified.local {
            self.check_token(&principal, &verified.claims, now).await?;
        }
        Ok(Self::hit(cache, verified, principal))
    }

    /// Counts a cache hit answered with `principal`.
    fn hit(
        cache: &crate::token_cache::TokenCache,
        verified: &Verified,
        principal: Principal,
    ) -> (Principal, TokenClaims) {
        cache.stats.hits.fetch_add(1, Ordering::Relaxed);
        crate::metrics::token_cache(crate::metrics::CacheEvent::Hit, 1);
        (principal, TokenClaims(Arc::clone(&verified.claims)))
    }

    /// Resolves the user of a cached token again (its principal is older than the
    /// cache's refresh interval or was marked stale) and caches the new principal.
    async fn refresh(
        &self,
        cache: &crate::token_cache::TokenCache,
        token: &[u8],
        verified: &Verified,
    ) -> Result<Principal, AuthError> {
        cache.stats.refreshes.fetch_add(1, Ordering::Relaxed);
        crate::metrics::token_cache(crate::metrics::CacheEvent::Refresh, 1);
        let principal = if verified.local {
            self.inner.resolver.resolve_local(&verified.claims).await
        } else {
            self.inner.resolver.resolve_azure(&verified.claims).await
        }?;
        cache.insert(
            token,
            Arc::new(Verified {
                claims: Arc::clone(&verified.claims),
                key: verified.key.clone(),
                principal: principal.clone(),
                resolved_at: Instant::now(),
                exp: verified.exp,
                nbf: verified.nbf,
                leeway: verified.leeway,
                local: verified.local,
            }),
        );
        Ok(principal)
    }

    /// Re-resolve this user's cached principals on next use (after a role change,
    /// deactivation or a directory link change).
    pub fn invalidate_user(&self, tenant: erp_core::TenantId, user: erp_core::UserId) {
        if let Some(cache) = &self.inner.cache {
            cache.mark(tenant, Some(user));
        }
    }

    /// Re-resolve every cached principal of a tenant on next use.
    pub fn invalidate_tenant(&self, tenant: erp_core::TenantId) {
        if let Some(cache) = &self.inner.cache {
            cache.mark(tenant, None);
        }
    }

    /// Applies revocation events from other instances to the session guard and the
    /// token cache until the sender closes (a lagging receiver resets everything).
    pub fn follow(&self, events: tokio::sync::broadcast::Receiver<erp_core::RevocationEvent>) {
        crate::session::spawn_follower(Arc::downgrade(&self.inner), events, |inner, event| {
            if let Some(guard) = &inner.sessions {
                guard.invalidate(event);
            }
            if let Some(tokens) = &inner.tokens {
                tokens.invalidate(event);
            }
            if let Some(cache) = &inner.cache {
                cache.apply(event);
            }
        });
    }

    /// Counters of the token cache, if enabled.
    pub fn cache_stats(&self) -> Option<&crate::token_cache::TokenCacheStats> {
        self.inner.cache.as_ref().map(|c| &c.stats)
    }

    /// Number of cached tokens.
    pub fn cached_tokens(&self) -> usize {
        self.inner
            .cache
            .as_ref()
            .map_or(0, crate::token_cache::TokenCache::len)
    }

    /// The provider's token id of an Entra ID token: `uti`, else `jti`.
    fn token_id(claims: &Claims) -> Option<&str> {
        claims.uti.as_deref().or(claims.jti.as_deref())
    }

    /// Refuses a provider token revoked here before its expiry (sign-out).
    async fn check_token(
        &self,
        principal: &Principal,
        claims: &Claims,
        now: Instant,
    ) -> Result<(), AuthError> {
        match (&self.inner.tokens, Self::token_id(claims)) {
            (Some(tokens), Some(id)) => tokens.check_at(principal.tenant_id, id, now).await,
            _ => Ok(()),
        }
    }

    /// Revokes the Entra ID access token of this request until it expires: the sign-out
    /// of a browser app that holds no session of ours. Returns whether a token was
    /// revoked (false for local tokens and cookies, whose sessions are revoked instead,
    /// and without a token revocation store).
    pub async fn revoke_token(
        &self,
        principal: &Principal,
        claims: &Claims,
    ) -> Result<bool, AuthError> {
        let (Some(tokens), Some(id), erp_core::AuthMethod::AzureAd) = (
            &self.inner.tokens,
            Self::token_id(claims),
            principal.auth_method,
        ) else {
            return Ok(false);
        };
        let expires_at = claims
            .exp
            .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
            .or(principal.expires_at)
            .ok_or(AuthError::InvalidClaims("the token has no expiry"))?;
        tokens
            .revoke(principal.tenant_id, id, principal.user_id, expires_at)
            .await
    }

    async fn check_revocation(&self, principal: &Principal, now: Instant) -> Result<(), AuthError> {
        match &self.inner.sessions {
            Some(guard) => guard.check_at(principal, now).await,
            None => Ok(()),
        }
    }
}

/// What the verified-token cache says about a token, without waiting.
enum Lookup {
    /// Answered from memory.
    Done(Result<(Principal, TokenClaims), AuthError>),
    /// Cached, but the answer needs the store (see [`Authenticator::cached_waiting`]).
    Wait(Arc<Verified>),
    /// Not cached, or its key left the JWKS: verify it.
    Miss,
}

/// The text of a token the caller gave as a `&str`: it is text already; the trip through
/// bytes costs a UTF-8 check on a cache miss only, and verification refuses what is no
/// JWT.
fn text_of_str(token: &[u8]) -> Result<&str, AuthError> {
    std::str::from_utf8(token).map_err(|_| AuthError::MalformedHeader)
}

/// Seconds since the Unix epoch, as `chrono::Utc::now().timestamp()` without building a
/// calendar date on the way.
fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
