//! Routing a credential to exactly one verifier, then resolving the user.

use std::sync::Arc;

use erp_core::Principal;

use crate::{
    jwt::Claims,
    session::{SessionCookies, SessionGuard},
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
    cookies: Option<SessionCookies>,
    iam: Option<crate::iam::IamVerifier>,
    max_token_bytes: usize,
}

/// Builds an [`Authenticator`].
#[derive(Debug)]
pub struct AuthenticatorBuilder {
    azure: Option<AzureAdVerifier>,
    local: Option<LocalJwtVerifier>,
    resolver: UserResolver,
    sessions: Option<SessionGuard>,
    cookies: Option<SessionCookies>,
    iam: Option<crate::iam::IamVerifier>,
    max_token_bytes: usize,
}

impl AuthenticatorBuilder {
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
                cookies: self.cookies,
                iam: self.iam,
                max_token_bytes: self.max_token_bytes,
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
            cookies: None,
            iam: None,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
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
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(AuthError::CredentialTooLarge {
                max: inner.max_token_bytes,
            });
        }
        if let Some(iam) = &inner.iam {
            let user = iam.userinfo(token).await?;
            let principal = inner.resolver.resolve_iam(&user).await?;
            self.check_revocation(&principal).await?;
            let claims = Claims {
                sub: Some(user.id),
                ..Claims::default()
            };
            return Ok((principal, TokenClaims(Arc::new(claims))));
        }
        let jwt = CompactJwt::parse(token)?;
        let iss = jwt.claims.iss.as_deref().ok_or(AuthError::UnknownIssuer)?;
        let now = chrono::Utc::now().timestamp();
        if let Some(local) = &inner.local
            && local.owns_issuer(iss)
        {
            local.verify(&jwt, now)?;
            let principal = inner.resolver.resolve_local(&jwt.claims).await?;
            self.check_revocation(&principal).await?;
            return Ok((principal, TokenClaims(Arc::new(jwt.claims))));
        }
        if let Some(azure) = &inner.azure
            && azure.tenant_of_issuer(iss).is_some()
        {
            azure.verify(&jwt, now).await?;
            let principal = inner.resolver.resolve_azure(&jwt.claims).await?;
            self.check_revocation(&principal).await?;
            return Ok((principal, TokenClaims(Arc::new(jwt.claims))));
        }
        Err(AuthError::UnknownIssuer)
    }

    async fn check_revocation(&self, principal: &Principal) -> Result<(), AuthError> {
        match &self.inner.sessions {
            Some(guard) => guard.check(principal).await,
            None => Ok(()),
        }
    }
}
