use chrono::{DateTime, Utc};
use erp_core::{Role, SessionId, TenantId, UserId};
use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use super::{ACCESS_TOKEN_TYP, LocalJwtConfig};
use crate::AuthError;

/// Who a token is for.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The user (`sub`).
    pub user_id: UserId,
    /// The ERP tenant (`tenant`).
    pub tenant_id: TenantId,
    /// The session (`jti`).
    pub session_id: SessionId,
    /// Roles at issue time (informational: the layer reads current roles from the store).
    pub roles: Vec<Role>,
}

/// A freshly signed access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its `jti`.
    pub session_id: SessionId,
    /// Issue time.
    pub issued_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
}

impl IssuedToken {
    /// When a client should refresh: `buffer` (`TOKEN_REFRESH_BUFFER`) before expiry, but
    /// never before the token was issued.
    pub fn refresh_at(&self, buffer: std::time::Duration) -> DateTime<Utc> {
        let buffer = chrono::Duration::from_std(buffer).unwrap_or(chrono::Duration::MAX);
        self.expires_at
            .checked_sub_signed(buffer)
            .unwrap_or(self.issued_at)
            .max(self.issued_at)
    }
}

#[derive(Serialize)]
struct OutgoingClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    tenant: String,
    jti: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    roles: Vec<&'a str>,
}

/// Signs local HS256 access tokens with the ring's current key.
#[derive(Debug, Clone)]
pub struct LocalTokenIssuer {
    config: LocalJwtConfig,
}

impl LocalTokenIssuer {
    /// An issuer for `config`.
    pub fn new(config: LocalJwtConfig) -> Self {
        crate::crypto::ensure_provider();
        Self { config }
    }

    /// Issues a token valid from now for the configured TTL.
    pub fn issue(&self, request: &TokenRequest) -> Result<IssuedToken, AuthError> {
        self.issue_at(request, Utc::now())
    }

    /// Issues a token as of `now` (tests use a fixed clock).
    pub fn issue_at(
        &self,
        request: &TokenRequest,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, AuthError> {
        let ttl = chrono::Duration::from_std(self.config.access_ttl)
            .map_err(|_| AuthError::Config("access token TTL out of range".into()))?;
        let expires_at = now + ttl;
        let (kid, key) = self.config.keys.signing();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.to_owned());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        let claims = OutgoingClaims {
            iss: &self.config.issuer,
            aud: &self.config.audience,
            sub: request.user_id.to_string(),
            tenant: request.tenant_id.to_string(),
            jti: request.session_id.as_str(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            roles: request.roles.iter().map(Role::as_str).collect(),
        };
        let token = jsonwebtoken::encode(&header, &claims, key)
            .map_err(|e| AuthError::Config(format!("cannot sign a token: {e}")))?;
        Ok(IssuedToken {
            token,
            session_id: request.session_id.clone(),
            issued_at: now,
            expires_at,
        })
    }
}
