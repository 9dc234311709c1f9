//! What a login exchanges with its caller: the request, and the tokens and user handed out.

use std::fmt;

use chrono::{DateTime, Utc};
use erp_core::{AuthMethod, RefreshToken, Role, SessionId, TenantId, User, UserId};
use serde::Serialize;

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
    pub(super) fn from_user(user: &User) -> Self {
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
