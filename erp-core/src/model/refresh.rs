use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::SessionId;
use crate::{Error, TenantId, UserId};

/// An opaque refresh token as handed to a client: `<tenant id>.<64 hex random>`.
///
/// The tenant prefix binds the token to its tenant (it is looked up in that tenant only);
/// the random part carries 244 bits of entropy. Only its SHA-256 is stored. `Debug` and
/// `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// A fresh token for `tenant`.
    pub fn generate(tenant: TenantId) -> Self {
        Self(format!(
            "{}.{}{}",
            tenant.as_uuid().simple(),
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Parses a token received from a client; anything not of our shape is invalid.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let invalid = || Error::invalid("refresh_token", "not a refresh token");
        let (tenant, random) = value.split_once('.').ok_or_else(invalid)?;
        if tenant.len() != 32
            || random.len() != 64
            || !random.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(invalid());
        }
        uuid::Uuid::try_parse(tenant).map_err(|_| invalid())?;
        Ok(Self(value.to_owned()))
    }

    /// The tenant the token belongs to.
    pub fn tenant(&self) -> TenantId {
        // Checked in `generate` / `parse`.
        let prefix = self.0.split('.').next().unwrap_or_default();
        TenantId::from_uuid(uuid::Uuid::try_parse(prefix).unwrap_or_default())
    }

    /// What is stored: hex SHA-256 of the whole token. A fast hash is right here: the
    /// token has 244 random bits, so there is nothing to brute-force.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The token text, to send to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// Whether a replay of a token used at `used_at` falls in the reuse grace at `now`.
///
/// Strict (false) when `interval` is zero or negative. A `used_at` after `now` (another
/// instance's clock ahead of ours) counts as just used.
pub(crate) fn within_reuse_interval(
    used_at: DateTime<Utc>,
    now: DateTime<Utc>,
    interval: chrono::Duration,
) -> bool {
    interval > chrono::Duration::zero() && now - used_at < interval
}

/// A refresh token just issued.
#[derive(Debug, Clone)]
pub struct IssuedRefreshToken {
    /// The token to hand to the client.
    pub token: RefreshToken,
    /// Its family (all rotations of one sign-in).
    pub family_id: String,
    /// The session it refreshes.
    pub session_id: SessionId,
    /// Its owner.
    pub user_id: UserId,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// The token was valid and is now used; here is its successor.
    Rotated(IssuedRefreshToken),
    /// The token had just been rotated (it is the family's most recently used token,
    /// within the reuse interval): a racing tab or a retry. Here is a fresh token of the
    /// same family and session; nothing was revoked.
    Reissued(IssuedRefreshToken),
    /// The token had already been used: likely stolen. Its whole family and its session
    /// are now revoked.
    Reused {
        /// The session that was revoked.
        session_id: SessionId,
        /// Its owner.
        user_id: UserId,
    },
    /// The token expired.
    Expired,
    /// Unknown, revoked, or its session is no longer active.
    Invalid,
}

/// A revocation that other instances must apply to their caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationEvent {
    /// One session was revoked.
    Session(TenantId, SessionId),
    /// Every session of a user; the user's watermark moved.
    User(TenantId, UserId),
    /// Every session of a tenant; the tenant's watermark moved.
    Tenant(TenantId),
    /// One access token issued elsewhere (Entra ID), by its `uti`, was revoked.
    Token(TenantId, String),
    /// Notifications may have been missed (the listener reconnected): drop everything.
    All,
}

impl RevocationEvent {
    /// Wire form for `NOTIFY`: `s:<tenant>:<session>`, `u:<tenant>:<user>`, `t:<tenant>`.
    pub fn to_payload(&self) -> String {
        match self {
            Self::Session(t, s) => format!("s:{t}:{s}"),
            Self::User(t, u) => format!("u:{t}:{u}"),
            Self::Tenant(t) => format!("t:{t}"),
            Self::Token(t, id) => format!("k:{t}:{id}"),
            Self::All => "*".into(),
        }
    }

    /// Parses [`RevocationEvent::to_payload`]; anything unreadable becomes `All`, the
    /// safe reading of a message we do not understand.
    pub fn from_payload(payload: &str) -> Self {
        let mut parts = payload.splitn(3, ':');
        let kind = parts.next();
        let tenant = parts.next().and_then(|t| t.parse::<TenantId>().ok());
        let rest = parts.next();
        match (kind, tenant, rest) {
            (Some("s"), Some(t), Some(s)) => {
                SessionId::new(s).map_or(Self::All, |s| Self::Session(t, s))
            }
            (Some("u"), Some(t), Some(u)) => u.parse().map_or(Self::All, |u| Self::User(t, u)),
            (Some("t"), Some(t), None) => Self::Tenant(t),
            (Some("k"), Some(t), Some(id)) if is_token_id(id) => Self::Token(t, id.to_owned()),
            _ => Self::All,
        }
    }
}

/// True for what an identity provider uses as a token id (`uti`, `jti`): 1 to 128
/// characters of the base64url alphabet and `.`, so it travels in a `NOTIFY` payload and
/// a key unchanged.
pub fn is_token_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_their_tenant_and_hide_in_debug() {
        let tenant = TenantId::new();
        let token = RefreshToken::generate(tenant);
        assert_eq!(token.tenant(), tenant);
        assert_eq!(RefreshToken::parse(token.expose()).unwrap(), token);
        assert_eq!(token.hash().len(), 64);
        assert_ne!(token.hash(), RefreshToken::generate(tenant).hash());
        assert!(!format!("{token:?}").contains(token.expose()));
        for bad in [
            "",
            "x.y",
            &format!("{}.short", tenant.as_uuid().simple()),
            "../../etc",
        ] {
            assert!(RefreshToken::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn events_round_trip_and_unknown_means_all() {
        let t = TenantId::new();
        for e in [
            RevocationEvent::Session(t, SessionId::generate()),
            RevocationEvent::User(t, UserId::new()),
            RevocationEvent::Tenant(t),
            RevocationEvent::Token(t, "aGVsbG8_d29ybGQ-Zm9v".into()),
            RevocationEvent::All,
        ] {
            assert_eq!(RevocationEvent::from_payload(&e.to_payload()), e);
        }
        assert_eq!(
            RevocationEvent::from_payload("garbage"),
            RevocationEvent::All
        );
        assert_eq!(
            RevocationEvent::from_payload("s:nope:x"),
            RevocationEvent::All
        );
        assert_eq!(
            RevocationEvent::from_payload(&format!("k:{t}:a:b")),
            RevocationEvent::All,
            "not a token id"
        );
    }
}
