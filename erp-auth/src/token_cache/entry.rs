use std::sync::{Arc, Weak};

use erp_core::Principal;
use tokio::time::Instant;

use crate::{azure::SigningKeyRef, crypto::Hs256Key, jwt::Claims};

/// The key a cached token was verified with; dead once the key is gone.
#[derive(Clone)]
pub(crate) enum KeyHandle {
    Rsa(Weak<SigningKeyRef>),
    Hmac(Weak<Hs256Key>),
}

impl KeyHandle {
    pub(crate) fn rsa(key: &Arc<SigningKeyRef>) -> Self {
        Self::Rsa(Arc::downgrade(key))
    }

    pub(crate) fn hmac(key: &Arc<Hs256Key>) -> Self {
        Self::Hmac(Arc::downgrade(key))
    }

    pub(crate) fn alive(&self) -> bool {
        match self {
            Self::Rsa(w) => w.strong_count() > 0,
            Self::Hmac(w) => w.strong_count() > 0,
        }
    }
}

/// What verifying a token established.
pub(crate) struct Verified {
    pub(crate) claims: Arc<Claims>,
    pub(crate) key: KeyHandle,
    /// Resolved from the store at `resolved_at`.
    pub(crate) principal: Principal,
    pub(crate) resolved_at: Instant,
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    pub(crate) leeway: i64,
    /// Local (HS256) or Entra ID (RS256): how to re-resolve the principal.
    pub(crate) local: bool,
}

impl Verified {
    /// `exp`/`nbf` at `now`, with the verifier's leeway.
    pub(crate) fn check_times(&self, now: i64) -> Result<(), crate::AuthError> {
        if now > self.exp.saturating_add(self.leeway) {
            return Err(crate::AuthError::Expired);
        }
        if self
            .nbf
            .is_some_and(|nbf| now < nbf.saturating_sub(self.leeway))
        {
            return Err(crate::AuthError::NotYetValid);
        }
        Ok(())
    }
}
