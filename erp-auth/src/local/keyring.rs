use std::{fmt, sync::Arc};

use jsonwebtoken::EncodingKey;

use crate::{AuthError, crypto::Hs256Key};

/// Shortest HS256 secret accepted: 256 bits, the size of the HMAC-SHA256 output.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
struct Entry {
    kid: Arc<str>,
    encoding: EncodingKey,
    verifying: Arc<Hs256Key>,
}

/// HS256 secrets by `kid`. The first key signs; all keys verify, so a new secret can be
/// added first and the old one removed once its tokens have expired.
///
/// ```
/// use erp_auth::local::KeyRing;
///
/// let ring = KeyRing::new("2026-11", b"a-secret-of-at-least-32-bytes-long!!")?
///     .with_key("2026-05", b"the-previous-secret-still-verifies!!")?;
/// assert_eq!(ring.signing_kid(), "2026-11");
/// assert!(KeyRing::new("k", b"too short").is_err());
/// # Ok::<(), erp_auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    entries: Vec<Entry>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secrets.
        f.debug_struct("KeyRing")
            .field(
                "kids",
                &self.entries.iter().map(|e| &*e.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn check(kid: &str, secret: &[u8]) -> Result<(), AuthError> {
    if kid.is_empty() || kid.len() > 64 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AuthError::Config(
            "a key id must be 1..=64 printable ASCII characters".into(),
        ));
    }
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::Config(format!(
            "the JWT secret {kid:?} is shorter than {MIN_SECRET_BYTES} bytes"
        )));
    }
    Ok(())
}

impl KeyRing {
    /// A ring whose signing key is `secret` under `kid`.
    pub fn new(kid: impl Into<String>, secret: &[u8]) -> Result<Self, AuthError> {
        Self {
            entries: Vec::new(),
        }
        .with_key(kid, secret)
    }

    /// Adds a verification key (the first key added signs).
    pub fn with_key(mut self, kid: impl Into<String>, secret: &[u8]) -> Result<Self, AuthError> {
        let kid = kid.into();
        check(&kid, secret)?;
        if self.entries.iter().any(|e| *e.kid == *kid) {
            return Err(AuthError::Config(format!("duplicate key id {kid:?}")));
        }
        self.entries.push(Entry {
            kid: kid.into(),
            encoding: EncodingKey::from_secret(secret),
            verifying: Arc::new(Hs256Key::new(secret)),
        });
        Ok(self)
    }

    /// The `kid` new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.entries[0].kid
    }

    pub(crate) fn signing(&self) -> (&str, &EncodingKey) {
        let e = &self.entries[0];
        (&e.kid, &e.encoding)
    }

    pub(crate) fn verifying(&self, kid: &str) -> Option<&Arc<Hs256Key>> {
        self.entries
            .iter()
            .find(|e| &*e.kid == kid)
            .map(|e| &e.verifying)
    }

    /// True if `kid` is in the ring.
    pub fn contains(&self, kid: &str) -> bool {
        self.verifying(kid).is_some()
    }
}
