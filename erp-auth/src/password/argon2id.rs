//! Argon2 PHC strings: producing new hashes and checking stored ones.
//!
//! Verification uses the parameters recorded in the stored string, not the hasher's, so that
//! hashes made before a parameter change keep working; the comparison with the hasher's
//! parameters only decides whether to ask for a rehash.

use argon2::password_hash::Error as PhError;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};

use super::{MAX_ARGON2_M_KIB, MAX_ARGON2_P, MAX_ARGON2_T, PasswordError};

/// Output length of new hashes: 32 bytes, the OWASP and RFC 9106 recommendation.
pub(super) const OUTPUT_LEN: usize = 32;

/// Salts shorter than this in a stored hash trigger a rehash; new hashes use 16 bytes.
const RECOMMENDED_SALT_LEN: usize = 16;

/// Argon2's own minimum; shorter salts cannot be verified at all.
const MIN_SALT_LEN: usize = 8;

/// Fixed salt for the dummy hash: it protects nothing, so it need not be random, and a
/// fixed value keeps [`DummyHash::new`] independent of the OS random generator.
const DUMMY_SALT: &[u8; 16] = b"erp-dummy-salt!!";

/// Recognises the variants we can verify by prefix, so that other `$…$` schemes (bcrypt,
/// unknown PHC ids) are reported as unknown rather than malformed.
pub(super) fn is_argon2(stored: &str) -> bool {
    ["$argon2id$", "$argon2i$", "$argon2d$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

/// Bounds shared by `with_params` and stored hashes, so a tampered row cannot demand more
/// memory or time than a legitimately configured hasher could.
pub(super) fn check_bounds(m_kib: u32, t: u32, p: u32) -> Result<(), String> {
    if m_kib > MAX_ARGON2_M_KIB {
        return Err(format!("memory cost above {MAX_ARGON2_M_KIB} KiB"));
    }
    if t > MAX_ARGON2_T {
        return Err(format!("time cost above {MAX_ARGON2_T}"));
    }
    if p > MAX_ARGON2_P {
        return Err(format!("parallelism above {MAX_ARGON2_P}"));
    }
    Ok(())
}

/// Hashes with a fresh salt from the OS random generator.
pub(super) fn hash(params: &Params, password: &[u8]) -> Result<String, PasswordError> {
    use argon2::PasswordHasher as _;
    context(params)
        .hash_password(password)
        .map(|phc| phc.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

fn context(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

/// A stored Argon2 PHC string that parsed and passed every structural and cost check, so
/// that verifying it can only fail for a wrong password or an internal error.
pub(super) struct StoredArgon2 {
    phc: PasswordHash,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt_len: usize,
}

impl StoredArgon2 {
    pub(super) fn parse(stored: &str) -> Result<Self, PasswordError> {
        let mut phc = PasswordHash::new(stored).map_err(|e| malformed(PhError::from(e)))?;
        let algorithm = Algorithm::try_from(phc.algorithm.as_str()).map_err(malformed)?;
        let version = match phc.version {
            None => Version::V0x10,
            Some(v) => Version::try_from(v).map_err(|_| malformed(PhError::Version))?,
        };
        // Argon2's reference implementation reads a missing version as 0x10, while the
        // `argon2` crate would assume 0x13 and reject such hashes; pinning it keeps old
        // reference-implementation hashes verifiable.
        phc.version = Some(version.into());
        let params = Params::try_from(&phc).map_err(malformed)?;
        check_bounds(params.m_cost(), params.t_cost(), params.p_cost())
            .map_err(PasswordError::Malformed)?;
        let salt_len = match &phc.salt {
            Some(salt) if salt.len() >= MIN_SALT_LEN => salt.len(),
            Some(_) => return Err(malformed(PhError::SaltInvalid)),
            None => return Err(PasswordError::Malformed("missing salt".into())),
        };
        if phc.hash.is_none() {
            return Err(PasswordError::Malformed("missing hash output".into()));
        }
        Ok(Self {
            phc,
            algorithm,
            version,
            params,
            salt_len,
        })
    }

    /// Returns whether `password` matches; the output comparison inside `argon2` is
    /// constant-time.
    pub(super) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let ctx = Argon2::new(self.algorithm, self.version, self.params.clone());
        match ctx.verify_password(password, &self.phc) {
            Ok(()) => Ok(true),
            Err(PhError::PasswordInvalid) => Ok(false),
            Err(e) => Err(PasswordError::Hashing(e.to_string())),
        }
    }

    /// Anything that differs from what [`hash`] would produce today counts, not only weaker
    /// settings: the point is to converge every row on the current configuration.
    pub(super) fn needs_rehash(&self, current: &Params) -> bool {
        self.algorithm != Algorithm::Argon2id
            || self.version != Version::V0x13
            || self.params.m_cost() != current.m_cost()
            || self.params.t_cost() != current.t_cost()
            || self.params.p_cost() != current.p_cost()
            || self.params.output_len() != Some(OUTPUT_LEN)
            || !self.params.keyid().is_empty()
            || !self.params.data().is_empty()
            || self.salt_len < RECOMMENDED_SALT_LEN
    }
}

/// The throwaway hash behind `verify_dummy`, built with the hasher's own parameters so its
/// verification costs the same as a real one.
pub(super) struct DummyHash(StoredArgon2);

impl DummyHash {
    /// `None` only if the backend fails, in which case `verify_dummy` does nothing; that
    /// cannot happen for parameters accepted by `with_params`.
    pub(super) fn new(params: &Params) -> Option<Self> {
        use argon2::PasswordHasher as _;
        let phc = context(params)
            .hash_password_with_salt(b"erp-auth dummy password", DUMMY_SALT)
            .ok()?;
        StoredArgon2::parse(&phc.to_string()).ok().map(Self)
    }

    pub(super) fn verify(&self, password: &[u8]) -> Result<bool, PasswordError> {
        self.0.verify(password)
    }
}

/// The `password-hash` errors name the offending part only, never its content, so their
/// text is safe to surface.
fn malformed(e: PhError) -> PasswordError {
    PasswordError::Malformed(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(m: u32, t: u32, p: u32) -> Params {
        Params::new(m, t, p, Some(OUTPUT_LEN)).unwrap()
    }

    fn hash_with(alg: Algorithm, version: Version, p: Params, salt: &[u8]) -> String {
        use argon2::PasswordHasher as _;
        Argon2::new(alg, version, p)
            .hash_password_with_salt(b"pw", salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn other_variants_verify_and_ask_for_rehash() {
        let current = params(32, 1, 1);
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let stored = hash_with(alg, Version::V0x13, current.clone(), b"0123456789abcdef");
            let parsed = StoredArgon2::parse(&stored).unwrap();
            assert!(parsed.verify(b"pw").unwrap());
            assert!(!parsed.verify(b"px").unwrap());
            assert!(parsed.needs_rehash(&current));
        }
    }

    #[test]
    fn old_version_short_salt_and_output_len_ask_for_rehash() {
        let current = params(32, 1, 1);
        let v10 = hash_with(
            Algorithm::Argon2id,
            Version::V0x10,
            current.clone(),
            b"0123456789abcdef",
        );
        let parsed = StoredArgon2::parse(&v10).unwrap();
        assert!(parsed.verify(b"pw").unwrap());
        assert!(parsed.needs_rehash(&current));

        let short_salt = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            current.clone(),
            b"01234567",
        );
        let parsed = StoredArgon2::parse(&short_salt).unwrap();
        assert!(parsed.verify(b"pw").unwrap());
        assert!(parsed.needs_rehash(&current));

        let long_out = Params::new(32, 1, 1, Some(64)).unwrap();
        let stored = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            long_out,
            b"0123456789abcdef",
        );
        let parsed = StoredArgon2::parse(&stored).unwrap();
        assert!(parsed.verify(b"pw").unwrap());
        assert!(parsed.needs_rehash(&current));

        let same = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            current.clone(),
            b"0123456789abcdef",
        );
        assert!(!StoredArgon2::parse(&same).unwrap().needs_rehash(&current));
    }

    #[test]
    fn missing_version_means_0x10() {
        let current = params(32, 1, 1);
        let v10 = hash_with(
            Algorithm::Argon2id,
            Version::V0x10,
            current.clone(),
            b"0123456789abcdef",
        );
        let without_version = v10.replacen("$v=16", "", 1);
        assert_ne!(v10, without_version);
        let parsed = StoredArgon2::parse(&without_version).unwrap();
        assert!(parsed.verify(b"pw").unwrap());
    }

    #[test]
    fn prefixes() {
        assert!(is_argon2("$argon2id$x"));
        assert!(is_argon2("$argon2i$x"));
        assert!(is_argon2("$argon2d$x"));
        assert!(!is_argon2("$argon2$x"));
        assert!(!is_argon2("argon2id$x"));
        assert!(!is_argon2("$argon2idx$"));
    }
}
