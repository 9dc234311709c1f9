use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AuthMethod;
use crate::{Error, TenantId, UserId};

/// A session id: the `jti` of the tokens issued for the session.
///
/// Opaque, 16..=128 characters of URL-safe base64 / UUID characters, so it can travel in
/// a JWT, a cookie and a URL path without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id (UUID v4, 122 bits of entropy).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Validates an id received from outside.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        let ok = (16..=128).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(value))
        } else {
            Err(Error::invalid(
                "session_id",
                "must be 16..=128 characters of A-Z a-z 0-9 - _",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SessionId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for SessionId {
    type Error = Error;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> Self {
        id.0
    }
}

/// A signed-in session of one user in one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The `jti`.
    pub id: SessionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Owning user.
    pub user_id: UserId,
    /// How the session was opened.
    pub auth_method: AuthMethod,
    /// Opening time.
    pub created_at: DateTime<Utc>,
    /// Hard end of the session.
    pub expires_at: DateTime<Utc>,
    /// Last time a request used it (updated with a throttle, not on every request).
    pub last_seen_at: DateTime<Utc>,
    /// Set once revoked; a revoked session never comes back.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
}

impl Session {
    /// True if the session is neither revoked nor expired at `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What is needed to open a [`Session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The id to use (usually [`SessionId::generate`]).
    pub id: SessionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Owning user.
    pub user_id: UserId,
    /// How it was opened.
    pub auth_method: AuthMethod,
    /// Hard end.
    pub expires_at: DateTime<Utc>,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

impl NewSession {
    /// The session every store records when it opens this one at `at`: timestamps at
    /// the microsecond precision of the SQL stores, client details cut to their column
    /// sizes, so that all stores return the same value.
    pub(crate) fn open_at(self, at: DateTime<Utc>) -> Session {
        Session {
            id: self.id,
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            auth_method: self.auth_method,
            created_at: at,
            expires_at: crate::time::truncate_micros(self.expires_at),
            last_seen_at: at,
            revoked_at: None,
            ip: self.ip.map(|v| v.chars().take(64).collect()),
            user_agent: self.user_agent.map(|v| v.chars().take(512).collect()),
        }
    }
}

/// "Not before" marks: a credential issued before either mark is revoked.
///
/// This is how tokens that carry no local session (Azure AD access tokens) are revoked
/// per user and per tenant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationWatermarks {
    /// Credentials of this user issued before this instant are refused.
    pub user_not_before: Option<DateTime<Utc>>,
    /// Credentials of any user of the tenant issued before this instant are refused.
    pub tenant_not_before: Option<DateTime<Utc>>,
}

impl RevocationWatermarks {
    /// True if a credential issued at `issued_at` is revoked by either mark.
    pub fn revokes(&self, issued_at: DateTime<Utc>) -> bool {
        self.user_not_before.is_some_and(|m| issued_at < m)
            || self.tenant_not_before.is_some_and(|m| issued_at < m)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = SessionId::generate();
        assert!(SessionId::new(a.as_str()).is_ok());
        assert_ne!(a, SessionId::generate());
        for bad in [
            "short",
            "has/slash-xxxxxxxxxxxxxxx",
            "' OR 1=1 --xxxxxxxxxx",
        ] {
            assert!(SessionId::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn watermarks_revoke_only_older_credentials() {
        let now = Utc::now();
        let marks = RevocationWatermarks {
            user_not_before: Some(now),
            tenant_not_before: None,
        };
        assert!(marks.revokes(now - Duration::seconds(1)));
        assert!(!marks.revokes(now));
        assert!(!RevocationWatermarks::default().revokes(now));
        let tenant = RevocationWatermarks {
            user_not_before: None,
            tenant_not_before: Some(now),
        };
        assert!(tenant.revokes(now - Duration::milliseconds(1)));
    }
}
