//! Password hashing and verification for local ERP logins.
//!
//! New hashes are always Argon2id with the OWASP Password Storage Cheat Sheet
//! baseline (`m = 19456 KiB, t = 2, p = 1`, 16-byte random salt, 32-byte output),
//! stored as a self-describing PHC string. Because the parameters travel with every
//! hash, they can be raised later without invalidating existing rows: [`PasswordHasher::verify`]
//! reports `needs_rehash` whenever a stored hash was made with anything other than
//! the hasher's current settings.
//!
//! The legacy ERP stored unsalted SHA-256 hex digests and, in a later version,
//! Django-style PBKDF2-SHA256 strings. Those are still accepted so that nobody is locked
//! out by the migration, but they always report `needs_rehash = true`: the caller is
//! expected to re-hash the password (which it only knows at login time) and overwrite
//! the stored value, so legacy hashes disappear as users log in.
//!
//! Timing matters for login endpoints: if an unknown username returned immediately, an
//! attacker could enumerate accounts by response time. [`PasswordHasher::verify_dummy`]
//! spends the same Argon2id work on a throwaway hash for that case.
//!
//! Stored hashes are treated as untrusted input. Cost parameters are bounded (see
//! [`MAX_PBKDF2_ITERATIONS`], [`MAX_ARGON2_M_KIB`], …) so that a tampered row cannot turn
//! one login into a CPU or memory exhaustion attack, and no input makes this module panic.
//!
//! ```
//! use erp_auth::password::{PasswordHasher, Verified};
//!
//! # fn main() -> Result<(), erp_auth::password::PasswordError> {
//! // Production code uses `PasswordHasher::new()`; tiny parameters keep the doctest fast.
//! let hasher = PasswordHasher::with_params(1024, 1, 1)?;
//!
//! let stored = hasher.hash("correct horse")?;
//! assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
//! assert_eq!(
//!     hasher.verify("correct horse", &stored)?,
//!     Verified::Valid { needs_rehash: false }
//! );
//! assert_eq!(hasher.verify("wrong", &stored)?, Verified::Invalid);
//!
//! // A legacy unsalted SHA-256 row: accepted once, then upgraded on login.
//! let mut row = "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631".to_owned();
//! if let Verified::Valid { needs_rehash: true } = hasher.verify("correct horse", &row)? {
//!     row = hasher.hash("correct horse")?;
//! }
//! assert!(row.starts_with("$argon2id$"));
//! assert_eq!(
//!     hasher.verify("correct horse", &row)?,
//!     Verified::Valid { needs_rehash: false }
//! );
//! # Ok(())
//! # }
//! ```

mod argon2id;
mod legacy;

use std::fmt;
use std::sync::{
    Arc, OnceLock,
    atomic::{AtomicU64, Ordering},
};

/// Longest password, in bytes, that is hashed or verified.
///
/// Argon2 itself accepts gigabytes; the cap keeps an attacker from making the server hash
/// megabytes of input per request, and 1024 bytes is far beyond any passphrase.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Highest PBKDF2 iteration count accepted from a stored hash.
///
/// Django's current default is well under this; anything above it (or zero) is treated as
/// a corrupted or hostile row rather than spending seconds of CPU on it.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Highest Argon2 memory cost, in KiB, accepted from a stored hash or [`PasswordHasher::with_params`].
///
/// Argon2 allocates this much per verification, so an unbounded value in a tampered row
/// would let a single login request allocate gigabytes.
pub const MAX_ARGON2_M_KIB: u32 = 1024 * 1024;

/// Highest Argon2 time cost (passes over memory) accepted, for the same reason as
/// [`MAX_ARGON2_M_KIB`].
pub const MAX_ARGON2_T: u32 = 64;

/// Highest Argon2 parallelism accepted, for the same reason as [`MAX_ARGON2_M_KIB`].
pub const MAX_ARGON2_P: u32 = 64;

/// Why hashing or verification failed.
///
/// Messages describe the problem only: they never contain the password or the stored hash,
/// so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// An empty password was given to [`PasswordHasher::hash`]; storing a hash of it would
    /// create an account anyone can log into.
    #[error("password is empty")]
    Empty,
    /// The password exceeds [`MAX_PASSWORD_LEN`]; rejected before hashing to bound the cost.
    #[error("password is longer than {max} bytes")]
    TooLong {
        /// The limit that was exceeded.
        max: usize,
    },
    /// The stored value matches none of the supported formats.
    #[error("unknown password hash format")]
    UnknownFormat,
    /// The stored value looks like a supported format but cannot be used.
    #[error("malformed password hash: {0}")]
    Malformed(String),
    /// Rejected hashing parameters given to [`PasswordHasher::with_params`].
    #[error("invalid password hashing parameters: {0}")]
    InvalidParams(String),
    /// The hashing backend failed (for example the OS random generator).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Outcome of a successful [`PasswordHasher::verify`] call.
///
/// A wrong password is an ordinary outcome, not an error, so it lives here rather than in
/// [`PasswordError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verified {
    /// The password matches.
    Valid {
        /// The stored hash is legacy or uses other parameters than the hasher's current
        /// ones; the caller should store the result of [`PasswordHasher::hash`] in its place
        /// while the plaintext is at hand.
        needs_rehash: bool,
    },
    /// The password does not match.
    Invalid,
}

impl Verified {
    /// Whether the password matched, regardless of whether a rehash is due.
    #[must_use]
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

/// Hashes new passwords with Argon2id and verifies current and legacy stored hashes.
///
/// Cloning is cheap and clones share the lazily computed dummy hash, so one instance can be
/// built at start-up and handed to every request handler.
#[derive(Clone)]
pub struct PasswordHasher {
    params: argon2::Params,
    dummy: Arc<OnceLock<Option<argon2id::DummyHash>>>,
    runs: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// OWASP memory cost for Argon2id, in KiB.
    pub const DEFAULT_M_KIB: u32 = 19_456;
    /// OWASP time cost for Argon2id.
    pub const DEFAULT_T: u32 = 2;
    /// OWASP parallelism for Argon2id.
    pub const DEFAULT_P: u32 = 1;

    /// Creates a hasher with the OWASP-recommended Argon2id parameters; use this in production.
    #[must_use]
    pub fn new() -> Self {
        // The OWASP constants are within every bound `with_params` checks.
        Self::with_params(Self::DEFAULT_M_KIB, Self::DEFAULT_T, Self::DEFAULT_P)
            .unwrap_or_else(|_| Self::from_params(argon2::Params::DEFAULT))
    }

    /// Creates a hasher with custom Argon2id parameters, for tests and for tuning to the
    /// deployment's hardware.
    ///
    /// `m_kib` is the memory cost in KiB (at least `8 * p`, at most [`MAX_ARGON2_M_KIB`]),
    /// `t` the number of passes (1 to [`MAX_ARGON2_T`]) and `p` the parallelism
    /// (1 to [`MAX_ARGON2_P`]). The upper bounds match what [`verify`](Self::verify) accepts,
    /// so a hasher can always verify its own hashes.
    ///
    /// # Errors
    ///
    /// [`PasswordError::InvalidParams`] if a value is out of range.
    pub fn with_params(m_kib: u32, t: u32, p: u32) -> Result<Self, PasswordError> {
        argon2id::check_bounds(m_kib, t, p).map_err(PasswordError::InvalidParams)?;
        let params = argon2::Params::new(m_kib, t, p, Some(argon2id::OUTPUT_LEN))
            .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        Ok(Self::from_params(params))
    }

    fn from_params(params: argon2::Params) -> Self {
        Self {
            params,
            dummy: Arc::new(OnceLock::new()),
            runs: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Hashes `password` into an Argon2id PHC string with a fresh random salt.
    ///
    /// # Errors
    ///
    /// [`PasswordError::Empty`] for an empty password, [`PasswordError::TooLong`] above
    /// [`MAX_PASSWORD_LEN`] bytes, [`PasswordError::Hashing`] if the backend or the OS
    /// random generator fails.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        check_len(password)?;
        if password.is_empty() {
            return Err(PasswordError::Empty);
        }
        self.runs.fetch_add(1, Ordering::Relaxed);
        argon2id::hash(&self.params, password.as_bytes())
    }

    /// How many Argon2 computations (hashes, verifications of Argon2 hashes and dummy
    /// verifications) this hasher and its clones have run.
    ///
    /// Paths that must cost the same, such as a login for an unknown username and one with a
    /// wrong password, can be compared by this count instead of by a stopwatch.
    #[must_use]
    pub fn argon2_runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Checks `password` against a stored hash in any supported format.
    ///
    /// Supported: Argon2id/Argon2i/Argon2d PHC strings, Django `pbkdf2_sha256$…` strings and
    /// unsalted SHA-256 as 64 hex digits. All digest comparisons are constant-time. An empty
    /// password is always [`Verified::Invalid`], since [`hash`](Self::hash) never stores one.
    ///
    /// # Errors
    ///
    /// [`PasswordError::TooLong`] above [`MAX_PASSWORD_LEN`] bytes (checked first, before any
    /// work), [`PasswordError::UnknownFormat`] if `stored` is in no supported format,
    /// [`PasswordError::Malformed`] if it is in a supported format but corrupt or beyond the
    /// cost bounds, [`PasswordError::Hashing`] if the backend fails.
    pub fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        check_len(password)?;
        // Parse before looking at the password so that a corrupt row is reported as such
        // for every input, instead of hiding behind the empty-password shortcut.
        let parsed = StoredHash::parse(stored)?;
        if password.is_empty() {
            return Ok(Verified::Invalid);
        }
        let pw = password.as_bytes();
        match parsed {
            StoredHash::Argon2(hash) => {
                self.runs.fetch_add(1, Ordering::Relaxed);
                let ok = hash.verify(pw)?;
                Ok(verdict(ok, hash.needs_rehash(&self.params)))
            }
            StoredHash::Pbkdf2(hash) => Ok(verdict(hash.verify(pw), true)),
            StoredHash::Sha256(hash) => Ok(verdict(hash.verify(pw), true)),
        }
    }

    /// Spends one Argon2id verification with the current parameters and discards the result.
    ///
    /// Call this when the username is unknown, so that the response takes as long as for a
    /// known user and cannot be used to enumerate accounts. It takes the same shortcuts as
    /// [`verify`](Self::verify) (too long or empty passwords return at once) to keep both
    /// paths alike. The dummy hash is computed on first use and shared by clones.
    pub fn verify_dummy(&self, password: &str) {
        if check_len(password).is_err() || password.is_empty() {
            return;
        }
        let dummy = self
            .dummy
            .get_or_init(|| argon2id::DummyHash::new(&self.params));
        if let Some(dummy) = dummy {
            // The outcome is meaningless; only the time spent matters.
            self.runs.fetch_add(1, Ordering::Relaxed);
            let _ = dummy.verify(password.as_bytes());
        }
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("algorithm", &"argon2id")
            .field("m_kib", &self.params.m_cost())
            .field("t", &self.params.t_cost())
            .field("p", &self.params.p_cost())
            .finish_non_exhaustive()
    }
}

fn check_len(password: &str) -> Result<(), PasswordError> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong {
            max: MAX_PASSWORD_LEN,
        });
    }
    Ok(())
}

fn verdict(ok: bool, needs_rehash: bool) -> Verified {
    if ok {
        Verified::Valid { needs_rehash }
    } else {
        Verified::Invalid
    }
}

/// A stored hash whose format has been recognised and validated, before any hashing.
enum StoredHash {
    // Boxed because a parsed PHC string is a few hundred bytes of inline buffers.
    Argon2(Box<argon2id::StoredArgon2>),
    Pbkdf2(legacy::DjangoPbkdf2),
    Sha256(legacy::UnsaltedSha256),
}

impl StoredHash {
    fn parse(stored: &str) -> Result<Self, PasswordError> {
        if argon2id::is_argon2(stored) {
            argon2id::StoredArgon2::parse(stored).map(|h| Self::Argon2(Box::new(h)))
        } else if legacy::is_django_pbkdf2(stored) {
            legacy::DjangoPbkdf2::parse(stored).map(Self::Pbkdf2)
        } else if let Some(hash) = legacy::UnsaltedSha256::parse(stored) {
            Ok(Self::Sha256(hash))
        } else {
            Err(PasswordError::UnknownFormat)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small enough to keep unoptimised test builds fast.
    fn fast() -> PasswordHasher {
        PasswordHasher::with_params(64, 1, 1).expect("valid params")
    }

    const PASSWORD: &str = "correct horse";

    /// `python3 -c "import hashlib;print(hashlib.sha256(b'correct horse').hexdigest())"`
    const SHA256_HEX: &str = "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631";

    /// `python3 -c "import hashlib,base64;print(base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'correct horse',b'saltsalt',1000)).decode())"`
    const PBKDF2_DJANGO: &str =
        "pbkdf2_sha256$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=";

    #[test]
    fn hash_then_verify() {
        let h = fast();
        let stored = h.hash(PASSWORD).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
            "{stored}"
        );
        assert_eq!(
            h.verify(PASSWORD, &stored).unwrap(),
            Verified::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            h.verify("correct horsf", &stored).unwrap(),
            Verified::Invalid
        );
        assert_eq!(h.verify("", &stored).unwrap(), Verified::Invalid);
        assert!(h.verify(PASSWORD, &stored).unwrap().is_valid());
        assert!(!Verified::Invalid.is_valid());
    }

    #[test]
    fn same_password_different_salt() {
        let h = fast();
        let a = h.hash(PASSWORD).unwrap();
        let b = h.hash(PASSWORD).unwrap();
        assert_ne!(a, b);
        assert!(h.verify(PASSWORD, &a).unwrap().is_valid());
        assert!(h.verify(PASSWORD, &b).unwrap().is_valid());
    }

    #[test]
    fn new_uses_owasp_params() {
        let h = PasswordHasher::new();
        let stored = h.hash(PASSWORD).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        // 16-byte salt (22 B64 chars) and 32-byte output (43 B64 chars).
        let parts: Vec<&str> = stored.split('$').collect();
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[4].len(), 22);
        assert_eq!(parts[5].len(), 43);
        assert_eq!(format!("{h:?}"), format!("{:?}", PasswordHasher::default()));
    }

    #[test]
    fn rehash_when_params_differ() {
        let old = PasswordHasher::with_params(32, 1, 1).unwrap();
        let stored = old.hash(PASSWORD).unwrap();
        for current in [
            PasswordHasher::with_params(64, 1, 1).unwrap(),
            PasswordHasher::with_params(32, 2, 1).unwrap(),
            PasswordHasher::with_params(32, 1, 2).unwrap(),
            PasswordHasher::with_params(16, 1, 1).unwrap(),
        ] {
            assert_eq!(
                current.verify(PASSWORD, &stored).unwrap(),
                Verified::Valid { needs_rehash: true },
                "{current:?}"
            );
            assert_eq!(current.verify("nope", &stored).unwrap(), Verified::Invalid);
        }
        assert_eq!(
            old.verify(PASSWORD, &stored).unwrap(),
            Verified::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn with_params_validation() {
        assert!(PasswordHasher::with_params(8, 1, 1).is_ok());
        for (m, t, p) in [
            (7, 1, 1),
            (8, 0, 1),
            (8, 1, 0),
            (15, 1, 2),
            (MAX_ARGON2_M_KIB + 1, 1, 1),
            (64, MAX_ARGON2_T + 1, 1),
            (1024, 1, MAX_ARGON2_P + 1),
            (u32::MAX, u32::MAX, u32::MAX),
        ] {
            assert!(
                matches!(
                    PasswordHasher::with_params(m, t, p),
                    Err(PasswordError::InvalidParams(_))
                ),
                "{m} {t} {p}"
            );
        }
    }

    #[test]
    fn sha256_legacy_known_answer() {
        let h = fast();
        assert_eq!(
            h.verify(PASSWORD, SHA256_HEX).unwrap(),
            Verified::Valid { needs_rehash: true }
        );
        assert_eq!(
            h.verify(PASSWORD, &SHA256_HEX.to_uppercase()).unwrap(),
            Verified::Valid { needs_rehash: true }
        );
        assert_eq!(
            h.verify("Correct horse", SHA256_HEX).unwrap(),
            Verified::Invalid
        );
    }

    #[test]
    fn pbkdf2_legacy_known_answer() {
        let h = fast();
        assert_eq!(
            h.verify(PASSWORD, PBKDF2_DJANGO).unwrap(),
            Verified::Valid { needs_rehash: true }
        );
        assert_eq!(
            h.verify("correct horsf", PBKDF2_DJANGO).unwrap(),
            Verified::Invalid
        );
    }

    #[test]
    fn legacy_upgrade_flow() {
        let h = fast();
        for legacy in [SHA256_HEX, PBKDF2_DJANGO] {
            let Verified::Valid { needs_rehash: true } = h.verify(PASSWORD, legacy).unwrap() else {
                panic!("legacy hash should verify and ask for a rehash");
            };
            let upgraded = h.hash(PASSWORD).unwrap();
            assert_eq!(
                h.verify(PASSWORD, &upgraded).unwrap(),
                Verified::Valid {
                    needs_rehash: false
                }
            );
        }
    }

    #[test]
    fn malformed_and_unknown_inputs_are_errors() {
        let h = fast();
        let malformed = [
            "pbkdf2_sha256$abc$salt$hash",
            "pbkdf2_sha256$0$s$h",
            "pbkdf2_sha256$99999999999$s$h",
            "pbkdf2_sha256$10000001$s$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=",
            "pbkdf2_sha256$+1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=",
            "pbkdf2_sha256$1000$saltsalt$not*base64!",
            "pbkdf2_sha256$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0",
            "pbkdf2_sha256$1000$saltsalt$AAAA",
            "pbkdf2_sha256$1000$$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=",
            "pbkdf2_sha256$1000$saltsalt",
            "pbkdf2_sha256$1000$salt$salt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=",
            "pbkdf2_sha256$",
            "$argon2id$garbage",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=64,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=64,t=1,p=65$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=64,t=1,p=1,x=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$!!!",
        ];
        for stored in malformed {
            let err = h.verify(PASSWORD, stored).unwrap_err();
            assert!(
                matches!(err, PasswordError::Malformed(_)),
                "{stored}: {err:?}"
            );
            // An empty password must not hide a corrupt row.
            assert!(h.verify("", stored).is_err(), "{stored}");
            let msg = err.to_string();
            assert!(!msg.contains(PASSWORD));
            assert!(
                !msg.contains("c2FsdHNhbHQ") && !msg.contains("saltsalt"),
                "{msg}"
            );
        }

        let unknown = [
            "",
            " ",
            "$",
            "$$$$",
            &SHA256_HEX[..63],
            &format!("{SHA256_HEX}0"),
            &format!(" {SHA256_HEX}"),
            "g104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$argon2x$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "pbkdf2_sha1$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=",
            "md5$salt$hash",
            "plaintext",
            "\u{0}\u{1}\u{ff}\u{10ffff}",
            "ßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßßß",
        ];
        for stored in unknown {
            assert_eq!(
                h.verify(PASSWORD, stored),
                Err(PasswordError::UnknownFormat),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn pseudo_random_garbage_never_panics() {
        let h = fast();
        // A tiny deterministic generator is enough to throw odd bytes at every parser.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet: Vec<char> = "$=,+/0123456789abcdefABCDEF_-argon2idpbkdf_sha256vmtp é\u{0}"
            .chars()
            .collect();
        let prefixes = [
            "",
            "$argon2id$",
            "$argon2i$v=19$",
            "pbkdf2_sha256$",
            "$argon2d$v=19$m=64,t=1,p=1$",
        ];
        for i in 0..2000 {
            let mut s = String::from(prefixes[i % prefixes.len()]);
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 90) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            // Only the absence of panics (and of runaway cost) is asserted.
            let _ = h.verify(PASSWORD, &s);
        }
    }

    #[test]
    fn length_limits() {
        let h = fast();
        let long = "a".repeat(MAX_PASSWORD_LEN + 1);
        let max = "a".repeat(MAX_PASSWORD_LEN);
        assert_eq!(
            h.hash(&long),
            Err(PasswordError::TooLong {
                max: MAX_PASSWORD_LEN
            })
        );
        assert_eq!(
            h.verify(&long, SHA256_HEX),
            Err(PasswordError::TooLong {
                max: MAX_PASSWORD_LEN
            })
        );
        // The length check comes first, before the stored value is even looked at.
        assert_eq!(
            h.verify(&long, "garbage"),
            Err(PasswordError::TooLong {
                max: MAX_PASSWORD_LEN
            })
        );
        let stored = h.hash(&max).unwrap();
        assert!(h.verify(&max, &stored).unwrap().is_valid());
        assert_eq!(h.hash(""), Err(PasswordError::Empty));
        assert_eq!(h.verify("", SHA256_HEX).unwrap(), Verified::Invalid);
    }

    #[test]
    fn verify_dummy_runs_and_is_shared() {
        let h = fast();
        h.verify_dummy(PASSWORD);
        h.verify_dummy("");
        h.verify_dummy(&"a".repeat(MAX_PASSWORD_LEN + 1));
        let clone = h.clone();
        clone.verify_dummy("other");
        assert!(Arc::ptr_eq(&h.dummy, &clone.dummy));
        assert!(matches!(h.dummy.get(), Some(Some(_))));
    }

    #[test]
    fn debug_is_plain() {
        let dbg = format!("{:?}", fast());
        assert_eq!(
            dbg,
            "PasswordHasher { algorithm: \"argon2id\", m_kib: 64, t: 1, p: 1, .. }"
        );
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            PasswordError::TooLong { max: 1024 }.to_string(),
            "password is longer than 1024 bytes"
        );
        assert_eq!(
            PasswordError::UnknownFormat.to_string(),
            "unknown password hash format"
        );
    }
}
