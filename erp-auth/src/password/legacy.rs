//! Verification-only support for the hash formats of the legacy ERP.
//!
//! Nothing here ever produces a hash: these formats are accepted only so that existing users
//! can log in once and be upgraded to Argon2id.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{MAX_PBKDF2_ITERATIONS, PasswordError};

const DJANGO_PBKDF2_PREFIX: &str = "pbkdf2_sha256$";

/// Django derives as many bytes as the digest size, so any other length means corruption.
const PBKDF2_OUTPUT_LEN: usize = 32;

/// Django salts are short alphanumeric strings; a huge one is corruption, and bounding it
/// bounds the work spent on the salt.
const MAX_PBKDF2_SALT_LEN: usize = 256;

/// Once the Django prefix is seen the row is committed to that format, so later problems are
/// reported as malformed rather than unknown.
pub(super) fn is_django_pbkdf2(stored: &str) -> bool {
    stored.starts_with(DJANGO_PBKDF2_PREFIX)
}

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`.
pub(super) struct DjangoPbkdf2 {
    iterations: u32,
    salt: String,
    hash: [u8; PBKDF2_OUTPUT_LEN],
}

impl DjangoPbkdf2 {
    pub(super) fn parse(stored: &str) -> Result<Self, PasswordError> {
        let rest = stored
            .strip_prefix(DJANGO_PBKDF2_PREFIX)
            .ok_or(PasswordError::UnknownFormat)?;
        let mut fields = rest.split('$');
        let (Some(iterations), Some(salt), Some(hash), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed("expected 4 '$'-separated fields"));
        };
        Ok(Self {
            iterations: parse_iterations(iterations)?,
            salt: parse_salt(salt)?,
            hash: parse_hash(hash)?,
        })
    }

    /// Constant-time comparison of the derived key with the stored one.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        let mut derived = [0u8; PBKDF2_OUTPUT_LEN];
        pbkdf2::pbkdf2_hmac::<Sha256>(
            password,
            self.salt.as_bytes(),
            self.iterations,
            &mut derived,
        );
        derived.ct_eq(&self.hash).into()
    }
}

fn parse_iterations(field: &str) -> Result<u32, PasswordError> {
    // `str::parse` would also accept a leading '+', which Django never writes.
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("iteration count is not a decimal number"));
    }
    match field.parse::<u32>() {
        Ok(0) => Err(malformed("iteration count is zero")),
        Ok(n) if n <= MAX_PBKDF2_ITERATIONS => Ok(n),
        _ => Err(PasswordError::Malformed(format!(
            "iteration count above {MAX_PBKDF2_ITERATIONS}"
        ))),
    }
}

fn parse_salt(field: &str) -> Result<String, PasswordError> {
    if field.is_empty() {
        return Err(malformed("empty salt"));
    }
    if field.len() > MAX_PBKDF2_SALT_LEN {
        return Err(PasswordError::Malformed(format!(
            "salt longer than {MAX_PBKDF2_SALT_LEN} bytes"
        )));
    }
    Ok(field.to_owned())
}

fn parse_hash(field: &str) -> Result<[u8; PBKDF2_OUTPUT_LEN], PasswordError> {
    // A 32-byte value is 44 base64 characters; checking first avoids decoding junk of any size.
    if field.len() != 44 {
        return Err(malformed("hash is not 32 bytes of padded base64"));
    }
    let bytes = STANDARD
        .decode(field)
        .map_err(|_| malformed("hash is not valid base64"))?;
    bytes
        .try_into()
        .map_err(|_| malformed("hash is not 32 bytes of padded base64"))
}

/// Unsalted SHA-256, stored as 64 hex digits in either case.
pub(super) struct UnsaltedSha256([u8; 32]);

impl UnsaltedSha256 {
    /// `None` means "not this format": 64 hex digits are the only thing that identifies it.
    pub(super) fn parse(stored: &str) -> Option<Self> {
        let bytes = stored.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *byte = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Self(out))
    }

    /// Constant-time comparison of the digest with the stored one.
    pub(super) fn verify(&self, password: &[u8]) -> bool {
        let digest = Sha256::digest(password);
        digest.as_slice().ct_eq(&self.0).into()
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn malformed(what: &str) -> PasswordError {
    PasswordError::Malformed(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Django's own format, built here with the `pbkdf2` crate from a fixed salt and
    /// iteration count, so the parser and the derivation are checked together.
    #[test]
    fn pbkdf2_round_trip_with_computed_vector() {
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"s3cr3t", b"fixedsalt123", 2_000, &mut key);
        let stored = format!("pbkdf2_sha256$2000$fixedsalt123${}", STANDARD.encode(key));
        let parsed = DjangoPbkdf2::parse(&stored).unwrap();
        assert!(parsed.verify(b"s3cr3t"));
        assert!(!parsed.verify(b"s3cr3T"));
    }

    /// Cross-checked against Python's `hashlib.pbkdf2_hmac`.
    #[test]
    fn pbkdf2_matches_python() {
        let key = pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(b"correct horse", b"saltsalt", 1000);
        assert_eq!(
            STANDARD.encode(key),
            "qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0="
        );
    }

    #[test]
    fn iteration_bounds() {
        assert_eq!(parse_iterations("1").unwrap(), 1);
        assert_eq!(parse_iterations("10000000").unwrap(), MAX_PBKDF2_ITERATIONS);
        for bad in [
            "",
            "0",
            "00",
            "10000001",
            "4294967296",
            "99999999999",
            "+5",
            "-5",
            " 5",
            "5 ",
            "1e3",
        ] {
            assert!(
                matches!(parse_iterations(bad), Err(PasswordError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hash_field() {
        assert!(parse_hash("qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=").is_ok());
        // URL-safe alphabet, missing padding, bad trailing bits, wrong length.
        for bad in [
            "qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq_J0=",
            "qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0",
            "qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J1=",
            "qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0==",
            "qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=AAAA",
            "ßQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J=",
        ] {
            assert!(parse_hash(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sha256_hex_parsing() {
        let lower = "4104d36f8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631";
        let mixed = "4104D36F8da2c254349f85836793ebe029e0c957063a34c91c2e9203187b5631";
        let a = UnsaltedSha256::parse(lower).unwrap();
        let b = UnsaltedSha256::parse(mixed).unwrap();
        assert_eq!(a.0, b.0);
        assert!(a.verify(b"correct horse"));
        assert!(UnsaltedSha256::parse(&lower[..63]).is_none());
        assert!(UnsaltedSha256::parse(&format!("{}x", &lower[..63])).is_none());
        // 64 bytes but not 64 characters: must not split a multi-byte character.
        assert!(UnsaltedSha256::parse(&"é".repeat(32)).is_none());
    }
}
