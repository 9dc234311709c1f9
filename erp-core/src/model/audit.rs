use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::SessionId;
use crate::{TenantId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthEventKind {
    /// A sign-in attempt (see the outcome).
    Login,
    /// A session ended by its user.
    Logout,
    /// A refresh token was rotated.
    Refresh,
    /// A used refresh token was presented again: likely theft.
    RefreshReuse,
    /// Sessions were revoked by an administrator.
    Revocation,
    /// A directory user was created on first sign-in.
    Provisioning,
    /// A user's roles changed.
    RoleChange,
    /// A legacy password hash was upgraded to Argon2id.
    PasswordUpgrade,
    /// A service (an Entra ID app-only token) was authenticated; recorded once per token.
    ServiceAccess,
    /// The ERP wrote to the legacy database (a clearance record changed, a shipment
    /// booked); `detail` names the record.
    LegacyWrite,
}

impl AuthEventKind {
    /// Stable snake_case name (stored in `audit_events.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Logout => "logout",
            Self::Refresh => "refresh",
            Self::RefreshReuse => "refresh_reuse",
            Self::Revocation => "revocation",
            Self::Provisioning => "provisioning",
            Self::RoleChange => "role_change",
            Self::PasswordUpgrade => "password_upgrade",
            Self::ServiceAccess => "service_access",
            Self::LegacyWrite => "legacy_write",
        }
    }
}

impl fmt::Display for AuthEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit trail. It never holds a password or a token: the fields are
/// identifiers, a stable reason code and free text written by the toolkit itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// The tenant it happened in.
    pub tenant_id: TenantId,
    /// What.
    pub kind: AuthEventKind,
    /// True for success.
    pub success: bool,
    /// Stable reason code for failures (`INVALID_CREDENTIALS`, `RATE_LIMITED`, ...).
    pub reason: Option<String>,
    /// The user, when known.
    pub user_id: Option<UserId>,
    /// The username as typed (truncated), for failed logins of unknown users.
    pub username: Option<String>,
    /// The session concerned.
    pub session_id: Option<SessionId>,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent (truncated).
    pub user_agent: Option<String>,
    /// Extra context written by the toolkit (never user secrets).
    pub detail: Option<String>,
}

impl AuthEvent {
    /// An event of `kind` in `tenant`, now, successful; refine with the `with_*` methods.
    pub fn new(tenant_id: TenantId, kind: AuthEventKind) -> Self {
        Self {
            at: crate::time::now(),
            tenant_id,
            kind,
            success: true,
            reason: None,
            user_id: None,
            username: None,
            session_id: None,
            ip: None,
            user_agent: None,
            detail: None,
        }
    }

    /// Marks it failed with a reason code.
    pub fn failed(mut self, reason: impl Into<String>) -> Self {
        self.success = false;
        self.reason = Some(reason.into());
        self
    }

    /// Sets the user.
    pub fn with_user(mut self, user: UserId) -> Self {
        self.user_id = Some(user);
        self
    }

    /// Sets the typed username (at most 128 characters are kept).
    pub fn with_username(mut self, username: &str) -> Self {
        self.username = Some(username.chars().take(128).collect());
        self
    }

    /// Sets the session.
    pub fn with_session(mut self, session: SessionId) -> Self {
        self.session_id = Some(session);
        self
    }

    /// Sets the client.
    pub fn with_client(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(|v| v.chars().take(64).collect());
        self.user_agent = user_agent.map(|v| v.chars().take(256).collect());
        self
    }

    /// Sets extra context.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
